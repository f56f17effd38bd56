"""The chat test pane (`c` on the focused host): "does it answer, and how fast".

The screen runs each turn in a worker (``stream_turn``); the worker only posts ``TurnUpdate`` /
``TurnDone`` messages with frozen Turn snapshots, and the handlers here change the widgets and
the host's history. Keys: enter sends, esc stops a stream (and closes when idle), ctrl+y copies
the last answer, ctrl+t / ctrl+r cycle think and reasoning effort, ctrl+l clears the history.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from pathlib import PurePosixPath

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Collapsible, Footer, Input, Label, Select, Static

from gb10dash.chat.protocol import EFFORTS, THINK_CHOICES, think_value
from gb10dash.chat.render import client_figures, printable, server_figures, state_text
from gb10dash.chat.session import (
    ChatHistories,
    ChatHistory,
    ClientFactory,
    Turn,
    stream_turn,
)

#: the histories of this dashboard session, when the app does not pass its own
SESSION_HISTORIES = ChatHistories()
UPDATE_EVERY_S = 0.05  # the worker posts at most 20 snapshots a second

THINK_OPTIONS = [(f"think: {c}", c) for c in THINK_CHOICES]
EFFORT_OPTIONS = [("effort: default", "default"), *[(f"effort: {e}", e) for e in EFFORTS]]


def model_label(model_id: str | None) -> str:
    return PurePosixPath(model_id).name if model_id else "model –"


class TurnView(Vertical):
    """One question and its answer: reasoning (dimmed, collapsible), answer, figures, state."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(classes="turn")
        self.turn = turn
        self._auto_collapsed = turn.done

    def compose(self) -> ComposeResult:
        yield Static(Text("› " + printable(self.turn.user)), classes="user")
        with Collapsible(title="reasoning", collapsed=self.turn.done, classes="reasoning"):
            yield Static(classes="reasoning-text")
        yield Static(classes="answer")
        with Horizontal(classes="figures"):
            yield Static(classes="client")
            yield Static(classes="server")
        yield Static(classes="state")
        yield Static(classes="notes")
        yield Static(classes="error")

    def on_mount(self) -> None:
        self.show(self.turn)

    def show(self, turn: Turn) -> None:
        self.turn = turn
        reasoning = self.query_one(".reasoning", Collapsible)
        reasoning.display = bool(turn.reasoning)
        if turn.reasoning:
            reasoning.title = f"reasoning · {len(turn.reasoning):,} chars"
            self.query_one(".reasoning-text", Static).update(Text(printable(turn.reasoning)))
            if turn.answer and not self._auto_collapsed:
                reasoning.collapsed = True  # the answer has started: fold the thoughts once
                self._auto_collapsed = True
        answer = self.query_one(".answer", Static)
        answer.display = bool(turn.answer) or not turn.done
        answer.update(Text(printable(turn.answer) or ("…" if not turn.done else "")))
        self.query_one(".figures").display = bool(turn.deltas or turn.timings or not turn.done)
        self.query_one(".client", Static).update(client_figures(turn))
        self.query_one(".server", Static).update(server_figures(turn))
        self.query_one(".state", Static).update(Text(state_text(turn), style="bold" if turn.streaming else ""))
        notes = self.query_one(".notes", Static)
        notes.display = bool(turn.notes)
        notes.update(Text("\n".join(f"⚠ {note}" for note in turn.notes)))
        error = self.query_one(".error", Static)
        error.display = bool(turn.error)
        error.update(Text(f"✖ {turn.error}" if turn.error else ""))
        self.set_class(bool(turn.error), "-failed")
        self.set_class(turn.stopped, "-stopped")


class ChatScreen(ModalScreen[None]):
    """Chat with one host's llama-server. ``client_factory`` is awaited before every turn and gives
    an object with ``base_url`` (``HostMonitor.api_client`` fits: direct or the SSH port-forward)."""

    CSS_PATH = "../chat.tcss"
    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop the answer: closes the request (the server cancels it)"),
        Binding("escape", "close", "Close", tooltip="Back to the dashboard (the history is kept)"),
        Binding("ctrl+y", "copy_answer", "Copy answer"),
        Binding("ctrl+t", "cycle_think", "Think"),
        Binding("ctrl+r", "cycle_effort", "Effort"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("q", "close", "Close", show=False),
    ]

    class TurnUpdate(Message):
        """A snapshot of the answer being streamed; a queued older one is dropped."""

        def __init__(self, seq: int, turn: Turn) -> None:
            super().__init__()
            self.seq, self.turn = seq, turn

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, ChatScreen.TurnUpdate) and message.seq == self.seq

    class TurnDone(Message):
        def __init__(self, seq: int, turn: Turn) -> None:
            super().__init__()
            self.seq, self.turn = seq, turn

    def __init__(
        self, host_name: str, client_factory: ClientFactory, *, histories: ChatHistories | None = None
    ) -> None:
        super().__init__()
        self.host_name = host_name
        self.client_factory = client_factory
        self.history: ChatHistory = (SESSION_HISTORIES if histories is None else histories).get(host_name)
        self.streaming = False
        self._seq = 0
        self._view: TurnView | None = None

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        settings = self.history.settings
        think = {None: "default", True: "on", False: "off"}[settings.think]
        with Vertical(id="chat"):
            with Horizontal(id="chat-options"):
                yield Label("system", classes="option-label")
                yield Input(
                    settings.system_prompt, placeholder="system prompt (empty: none)", id="chat-system", compact=True
                )
                yield Select(THINK_OPTIONS, value=think, allow_blank=False, id="chat-think", compact=True)
                yield Select(
                    EFFORT_OPTIONS,
                    value=settings.effort or "default",
                    allow_blank=False,
                    id="chat-effort",
                    compact=True,
                )
            with VerticalScroll(id="chat-log"):
                for turn in self.history.turns:
                    yield TurnView(turn)
            yield Input(placeholder=f"Message {self.host_name} · enter sends, esc stops / closes", id="chat-prompt")
        yield Footer()

    def on_mount(self) -> None:
        box = self.query_one("#chat")
        box.border_title = f"chat · {self.host_name}"
        last = self.history.turns[-1].model if self.history.turns else None
        box.border_subtitle = model_label(last) if last else None
        self.query_one("#chat-prompt", Input).focus()
        self.query_one("#chat-log").scroll_end(animate=False)

    # -- keys ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.streaming
        if action == "close":
            return not self.streaming
        if action in ("cycle_think", "cycle_effort", "clear"):
            return None if self.streaming else True
        return True

    def action_stop(self) -> None:
        for worker in self.workers:
            if worker.group == "chat":
                worker.cancel()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_copy_answer(self) -> None:
        answer = self.history.last_answer()
        if not answer:
            self.notify("no answer to copy yet", severity="warning")
            return
        self.app.copy_to_clipboard(answer)
        self.notify(f"copied the last answer ({len(answer):,} chars)")

    def action_cycle_think(self) -> None:
        select = self.query_one("#chat-think", Select)
        select.value = THINK_CHOICES[(THINK_CHOICES.index(str(select.value)) + 1) % len(THINK_CHOICES)]

    def action_cycle_effort(self) -> None:
        select = self.query_one("#chat-effort", Select)
        values = [v for _, v in EFFORT_OPTIONS]
        select.value = values[(values.index(str(select.value)) + 1) % len(values)]

    async def action_clear(self) -> None:
        self.history.clear()
        await self.query_one("#chat-log").remove_children()
        self.query_one("#chat", Vertical).border_subtitle = None

    # -- settings --------------------------------------------------------------------------
    @on(Input.Changed, "#chat-system")
    def _system_changed(self, event: Input.Changed) -> None:
        self.history.settings.system_prompt = event.value

    @on(Select.Changed, "#chat-think")
    def _think_changed(self, event: Select.Changed) -> None:
        self.history.settings.think = think_value(str(event.value))

    @on(Select.Changed, "#chat-effort")
    def _effort_changed(self, event: Select.Changed) -> None:
        self.history.settings.effort = None if event.value == "default" else str(event.value)

    # -- a turn ----------------------------------------------------------------------------
    @on(Input.Submitted, "#chat-prompt")
    async def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        if self.streaming:
            self.notify("still answering: esc stops it", severity="warning")
            return
        event.input.clear()
        self._seq += 1
        self._view = TurnView(Turn(user=text))
        log = self.query_one("#chat-log", VerticalScroll)
        await log.mount(self._view)
        log.scroll_end(animate=False)
        self._set_streaming(True)
        self._run_turn(self._seq, text)

    @work(exclusive=True, exit_on_error=False, group="chat")
    async def _run_turn(self, seq: int, text: str) -> None:
        last = Turn(user=text)
        posted = 0.0
        try:
            async with aclosing(stream_turn(self.client_factory, self.history, text)) as turns:
                async for last in turns:
                    now = time.monotonic()
                    if not last.done and now - posted >= UPDATE_EVERY_S:
                        self.post_message(self.TurnUpdate(seq, last))
                        posted = now
        except asyncio.CancelledError:
            self.post_message(self.TurnDone(seq, last.stop()))
            raise
        except Exception as exc:
            last = Turn(user=text, answer=last.answer, error=f"internal error: {exc!r}", done=True)
        self.post_message(self.TurnDone(seq, last))

    def on_chat_screen_turn_update(self, message: TurnUpdate) -> None:
        if message.seq == self._seq and self._view is not None and self.streaming:
            self._show(message.turn)

    def on_chat_screen_turn_done(self, message: TurnDone) -> None:
        if message.seq != self._seq or self._view is None:
            return
        self.history.turns.append(message.turn)
        self._show(message.turn)
        self._set_streaming(False)

    def _show(self, turn: Turn) -> None:
        assert self._view is not None
        log = self.query_one("#chat-log", VerticalScroll)
        at_end = log.scroll_y >= log.max_scroll_y - 1
        self._view.show(turn)
        if turn.model:
            self.query_one("#chat", Vertical).border_subtitle = model_label(turn.model)
        if at_end:
            log.scroll_end(animate=False)

    def _set_streaming(self, streaming: bool) -> None:
        self.streaming = streaming
        self.set_class(streaming, "-streaming")
        self.refresh_bindings()
