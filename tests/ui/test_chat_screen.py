"""The chat pane against the lab's real llama-servers (and one started here with a thinking
template), driven with Textual's pilot; plus a snapshot of a fixed recorded conversation."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lab.labctl import until
from textual.app import App
from textual.message import Message
from textual.widgets import Collapsible, Input, Select, Static

from gb10dash.chat.protocol import error_message
from gb10dash.chat.render import printable, server_figures
from gb10dash.chat.session import ChatHistories, ClientFactory, Turn, TurnBuilder, fixed_url
from gb10dash.collectors.llama import parse_metrics
from gb10dash.config import load_config
from gb10dash.core.monitor import HostMonitor
from gb10dash.lab import Lab, find_llama_server
from gb10dash.lab.models import QWEN8B
from gb10dash.transport.sse import parse_body
from gb10dash.ui import themes
from gb10dash.ui.screens.chat import ChatScreen, TurnView

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "chat"
SIZE = (120, 36)


class ChatHarness(App[None]):
    """The dashboard's way in: push ChatScreen(host, client_factory, histories=…)."""

    def __init__(self, host: str, factory: ClientFactory, histories: ChatHistories) -> None:
        super().__init__()
        themes.install(self)
        self.host, self.factory, self.histories = host, factory, histories

    def on_mount(self) -> None:
        self.open_chat()

    def open_chat(self) -> None:
        self.push_screen(ChatScreen(self.host, self.factory, histories=self.histories))

    @property
    def chat(self) -> ChatScreen:
        assert isinstance(self.screen, ChatScreen)
        return self.screen


def harness(url: str, host: str = "pegasus", **settings: object) -> ChatHarness:
    histories = ChatHistories()
    for key, value in settings.items():
        setattr(histories.get(host).settings, key, value)
    return ChatHarness(host, fixed_url(url), histories)


async def send(pilot, text: str) -> None:
    """Type into the prompt (set at once: a long paste) and press enter, as the user does."""
    prompt = pilot.app.chat.query_one("#chat-prompt", Input)
    prompt.focus()
    prompt.value = text
    await pilot.press("enter")


async def answered(app: ChatHarness, count: int = 1, timeout: float = 120) -> Turn:
    history = app.histories.get(app.host)
    await until(lambda: len(history.turns) >= count, timeout, f"turn {count} to finish")
    return history.turns[count - 1]


def text_of(view: TurnView, selector: str) -> str:
    return str(view.query_one(selector, Static).render())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(url: str) -> dict[str, float]:
    return dict(parse_metrics(httpx.get(f"{url}/metrics", timeout=5).text).values)


def busy_slots(url: str) -> list[int]:
    return [s["id"] for s in httpx.get(f"{url}/slots", timeout=5).json() if s.get("is_processing")]


# -- live: the lab's pegasus (gpt-oss-named model, --jinja, ChatML template) --------------------
async def test_streams_a_real_answer_with_the_servers_timings(lab: Lab) -> None:
    url = lab.host("pegasus").api_url
    app = harness(url, max_tokens=120, extra={"ignore_eos": True})  # random weights may stop at once
    seen: list[Turn] = []

    def hook(message: Message) -> None:
        if isinstance(message, ChatScreen.TurnUpdate):
            seen.append(message.turn)

    before = metrics(url)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await send(pilot, "hello there")
        turn = await answered(app)
        await pilot.pause()
        assert turn.error is None and turn.done and turn.answer
        assert len(seen) >= 2  # it arrived as a stream of updates, not in one piece
        assert turn.model == str(lab.host("pegasus").model_path)
        assert turn.ttft_s and turn.ttft_s > 0 and turn.deltas > 0
        assert turn.client_tps is None or turn.client_tps > 0
        # the server's own figures, as reported in the stream, match its /metrics counters
        assert turn.timings and turn.usage
        assert turn.timings.predicted_n == turn.usage.completion_tokens

        def counted() -> tuple[float, float]:
            after = metrics(url)
            return (
                after["prompt_tokens_total"] - before["prompt_tokens_total"],
                after["tokens_predicted_total"] - before["tokens_predicted_total"],
            )

        expected = (turn.timings.prompt_n, turn.timings.predicted_n)
        await until(lambda: counted() == expected, 5, f"/metrics to count {expected} tokens")
        view = app.chat.query_one(TurnView)
        assert text_of(view, ".answer") == printable(turn.answer)
        assert text_of(view, ".server") == server_figures(turn)
        assert f"gen {turn.timings.predicted_n:,} tok" in text_of(view, ".server")
        assert "TTFT" in text_of(view, ".client")
        assert any(0 < t.deltas and not t.done for t in seen), "no snapshot while streaming"
        assert not app.chat.streaming and app.chat.query_one(".reasoning", Collapsible).display is False

        # the second turn sends the first one back: the prompt grows
        await send(pilot, "and again")
        second = await answered(app, 2)
        assert second.error is None and second.usage and turn.usage
        assert second.usage.prompt_tokens > turn.usage.prompt_tokens + 2


async def test_stop_cancels_the_stream_and_the_server_task(lab: Lab) -> None:
    url = lab.host("pegasus").api_url
    app = harness(url, max_tokens=5000, extra={"ignore_eos": True})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tell me everything")
        await until(lambda: app.chat._view and app.chat._view.turn.deltas >= 10, 60, "ten deltas")
        assert busy_slots(url), "the server should be generating"
        await pilot.press("escape")
        turn = await answered(app, timeout=10)
        stopped_at = time.monotonic()
        assert turn.stopped and turn.error is None and turn.answer and turn.deltas >= 10
        assert isinstance(app.screen, ChatScreen), "esc while streaming stops; it does not close"
        await until(lambda: not busy_slots(url), 1.0, "the server's slot to go idle after stop")
        assert time.monotonic() - stopped_at < 1.0
        await pilot.pause()
        assert "stopped by you" in text_of(app.chat.query_one(TurnView), ".state")
        await pilot.press("escape")  # idle now: closes
        assert not isinstance(app.screen, ChatScreen)


async def test_prompt_longer_than_the_context_is_a_message(lab: Lab) -> None:
    app = harness(lab.host("pegasus").api_url)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello world " * 900)
        turn = await answered(app)
        await pilot.pause()
        assert turn.error and turn.error.startswith("the conversation is too long for the context (")
        assert "> 4,096 of context" in turn.error
        view = app.chat.query_one(TurnView)
        assert view.has_class("-failed") and turn.error in text_of(view, ".error")
        assert not app.histories.get("pegasus").pairs()  # nothing to send back next time
        assert isinstance(app.screen, ChatScreen) and app.return_code is None


async def test_options_the_template_ignores_are_reported(lab: Lab) -> None:
    app = harness(lab.host("pegasus").api_url, max_tokens=8, think=False, effort="low")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        turn = await answered(app)
        await pilot.pause()
        assert turn.error is None and turn.options == ("think off", "effort low")
        assert [n.split(":")[0] for n in turn.notes] == ["think off", "reasoning effort low"]
        assert "not supported" in text_of(app.chat.query_one(TurnView), ".notes")


async def test_an_option_the_server_rejects_is_named(lab: Lab) -> None:
    app = harness(lab.host("pegasus").api_url, extra={"reasoning_format": "bogus"})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        turn = await answered(app)
        assert turn.error == (
            "the server rejected reasoning_format: server error (500 server_error): Unknown reasoning format: bogus"
        )


async def test_through_the_monitors_ssh_port_forward(lab: Lab) -> None:
    """The app's way: ChatScreen(host, monitor.api_client), the API reached over the SSH forward."""
    config = load_config(lab.config_path)
    host = dataclasses.replace(next(h for h in config.hosts if h.name == "stella"), api_via_ssh=True)
    monitor = HostMonitor(host, config.ssh)
    histories = ChatHistories()
    histories.get("stella").settings.max_tokens = 24
    histories.get("stella").settings.extra = {"ignore_eos": True}  # a random-weight model may stop at once
    app = ChatHarness("stella", monitor.api_client, histories)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "hi before ssh is up")  # the monitor has not connected yet
            down = await answered(app, timeout=30)
            assert down.error == "cannot reach stella's API: stella-llm: not connected"
            await monitor.transport.connect()
            await send(pilot, "hi over ssh")
            turn = await answered(app, 2)
            assert turn.error is None and turn.answer and turn.timings
            assert turn.model == str(lab.host("stella").model_path)
            base = (await monitor.api_client()).base_url
            assert base.startswith("http://127.0.0.1:") and base != lab.host("stella").api_url
    finally:
        await monitor.close()


async def test_host_down_is_a_message() -> None:
    port = free_port()  # nothing listens there
    app = harness(f"http://127.0.0.1:{port}")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "anyone?")
        turn = await answered(app, timeout=15)
        await pilot.pause()
        assert turn.error == f"cannot connect to http://127.0.0.1:{port}: connection refused or host unreachable"
        assert turn.error in text_of(app.chat.query_one(TurnView), ".error")


async def test_transport_failure_is_a_message() -> None:
    async def no_forward() -> object:
        raise ConnectionResetError("ssh connection lost")

    app = ChatHarness("stella", no_forward, ChatHistories())  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "anyone?")
        turn = await answered(app, timeout=15)
        assert turn.error == "cannot reach stella's API: ssh connection lost"


async def test_copy_clear_and_history_per_host(lab: Lab) -> None:
    histories = ChatHistories()
    histories.get("pegasus").settings.max_tokens = 16
    app = ChatHarness("pegasus", fixed_url(lab.host("pegasus").api_url), histories)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+y")  # nothing yet: a warning, no crash
        await send(pilot, "hi")
        turn = await answered(app)
        await pilot.press("ctrl+y")
        assert app.clipboard == turn.answer
        await pilot.press("escape")
        assert not isinstance(app.screen, ChatScreen)
        app.open_chat()  # reopened: the conversation is still there
        await pilot.pause()
        assert [v.turn for v in app.chat.query(TurnView)] == [turn]
        assert "stella" not in histories
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not app.chat.query(TurnView) and not histories.get("pegasus").turns


async def test_think_and_effort_keys_change_the_settings() -> None:
    app = harness("http://127.0.0.1:9")
    async with app.run_test(size=SIZE) as pilot:
        settings = app.histories.get("pegasus").settings
        await pilot.press("ctrl+t")
        assert settings.think is True and app.chat.query_one("#chat-think", Select).value == "on"
        await pilot.press("ctrl+t")
        assert settings.think is False
        await pilot.press("ctrl+t")
        assert settings.think is None
        await pilot.press("ctrl+r", "ctrl+r", "ctrl+r")
        assert settings.effort == "high"
        await pilot.press("ctrl+r")
        assert settings.effort is None
        system = app.chat.query_one("#chat-system", Input)
        system.value = "Answer in French."
        await pilot.pause()
        assert settings.system_prompt == "Answer in French."


# -- live: a llama-server whose template thinks (reasoning_content split by the server) ----------
@pytest.fixture(scope="module")
def thinking_server(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The lab's Qwen3-named model with a Qwen3-like template (think tags, enable_thinking,
    reasoning_effort), so that the server itself splits `<think>…</think>` into reasoning_content."""
    port = free_port()
    log = tmp_path_factory.mktemp("think") / "llama-server.log"
    argv = [
        str(find_llama_server()),
        "-m",
        str(lab.layout.share_src / QWEN8B),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        "2048",
        "-np",
        "1",
        "--slots",
        "--jinja",
        "--chat-template-file",
        str(FIX / "think_template.jinja"),
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"thinking llama-server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


THINK_GRAMMAR = 'root ::= "<think>" [a-z]{20,40} "</think>" [a-z]{10,20}'


async def test_reasoning_is_shown_apart_dimmed_and_collapsible(thinking_server: str) -> None:
    app = harness(
        thinking_server, host="stella", think=True, effort="high", max_tokens=200, extra={"grammar": THINK_GRAMMAR}
    )
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "why is the sky blue?")
        turn = await answered(app)
        await pilot.pause()
        assert turn.error is None and turn.notes == ()  # this template reads both switches
        assert 20 <= len(turn.reasoning) <= 40 and 10 <= len(turn.answer) <= 20, (turn.reasoning, turn.answer)
        assert "<think>" not in turn.answer + turn.reasoning and "</think>" not in turn.answer
        view = app.chat.query_one(TurnView)
        folded = view.query_one(".reasoning", Collapsible)
        assert folded.display and folded.collapsed  # folded once the answer began
        assert folded.title == f"reasoning · {len(turn.reasoning):,} chars"
        assert text_of(view, ".reasoning-text") == printable(turn.reasoning)
        assert text_of(view, ".answer") == printable(turn.answer)
        folded.collapsed = False  # enter / click on the title
        await pilot.pause()
        assert view.query_one(".reasoning-text", Static).region.height >= 1


# -- snapshot: a fixed conversation built from recorded streams, no clock --------------------------
class StepClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.004
        return self.now


def recorded_turn(user: str, name: str, options: tuple[str, ...] = (), frames: int | None = None) -> Turn:
    builder = TurnBuilder(user, options, StepClock())
    builder.sent()
    events = parse_body((FIX / name).read_bytes())
    for event in events[:frames]:
        builder.apply(event)
    return builder.turn.stop() if frames else builder.finish()


def fixed_conversation() -> ChatHistories:
    histories = ChatHistories()
    history = histories.get("stella")
    history.settings.think, history.settings.effort = True, "high"
    overflow = Turn(
        "paste of a long log …",
        options=("think on", "effort high"),
        done=True,
        model="/srv/lab/models/Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf",
        error=error_message(400, (FIX / "exceed_context_400.body").read_text()),
    )
    history.turns += [
        recorded_turn("Why is the sky blue?", "reasoning_stream_usage.body", ("think on", "effort high")),
        overflow,
        recorded_turn("Say it again, longer.", "reasoning_stream_usage.body", ("think on", "effort high"), frames=8),
    ]
    return histories


def test_snapshot_recorded_conversation(snap_compare) -> None:
    async def no_blink(pilot) -> None:
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    app = ChatHarness("stella", fixed_url("http://127.0.0.1:9"), fixed_conversation())
    assert snap_compare(app, terminal_size=SIZE, run_before=no_blink)
