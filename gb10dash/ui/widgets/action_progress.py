"""The running action, docked above the footer: its step, a bar for a build's `[ NN%]`, and the last
output lines of a streamed step. Hidden while nothing runs. Fed by the app; does no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import ProgressBar, Static

from gb10dash.actions.outcome import Progress, StepStatus


@dataclass(frozen=True, slots=True)
class ActionView:
    """What the widget shows for one host's action (pure: built from the executor's Progress)."""

    host: str
    action: str
    step: int = 0
    total: int = 0
    title: str = "starting"
    detail: str = ""
    percent: int | None = None
    lines: tuple[str, ...] = ()

    def advanced(self, progress: Progress) -> ActionView:
        """The view after one more progress report; a new step clears the bar and the lines."""
        if progress.status is StepStatus.UNDO:
            return ActionView(self.host, self.action, self.step, self.total, f"undo: {progress.title}", progress.detail)
        same_step = progress.step == self.step and progress.title == self.title
        return ActionView(
            self.host,
            self.action,
            progress.step or self.step,
            progress.total or self.total,
            progress.title,
            progress.detail if progress.status is StepStatus.PROGRESS else progress.status.value,
            progress.percent if progress.percent is not None else (self.percent if same_step else None),
            progress.lines or (self.lines if same_step else ()),
        )

    def headline(self) -> str:
        step = f"step {self.step}/{self.total} · " if self.total else ""
        percent = f" · {self.percent}%" if self.percent is not None else ""
        return f"{self.action} on {self.host} · {step}{self.title}{percent} · x cancels"


class ActionProgress(Vertical):
    """One running action (the focused host's, else the first running)."""

    def compose(self) -> ComposeResult:
        yield Static(id="action-headline", markup=False)
        yield ProgressBar(total=100, show_eta=False, id="action-bar")
        yield Static(id="action-lines", markup=False)

    def on_mount(self) -> None:
        self.display = False

    def show(self, view: ActionView | None) -> None:
        self.display = view is not None
        if view is None:
            return
        self.query_one("#action-headline", Static).update(Content(view.headline()))
        bar = self.query_one("#action-bar", ProgressBar)
        bar.display = view.percent is not None
        if view.percent is not None:
            bar.update(progress=view.percent)
        lines = self.query_one("#action-lines", Static)
        shown = view.lines[-4:] if view.lines else ((view.detail,) if view.detail else ())
        lines.display = bool(shown)
        lines.update(Content("\n".join(line[:400] for line in shown)))
