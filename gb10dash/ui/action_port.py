"""The workflows' port in the dashboard: a plan is confirmed on a ConfirmScreen (refused when the app
is read-only), what a workflow says is a notification, and its progress goes to the app as
ActionChanged messages — the workflow runs in a worker and never touches a widget."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from gb10dash.actions.executor import PlanResult, Progress
from gb10dash.actions.models import ModelCandidate
from gb10dash.actions.outcome import StepStatus
from gb10dash.actions.plan import Plan
from gb10dash.actions.port import Ask, Level
from gb10dash.ui.messages import ActionChanged
from gb10dash.ui.screens.confirm import ConfirmScreen
from gb10dash.ui.screens.model_picker import ModelPicker
from gb10dash.ui.widgets.action_progress import ActionView

if TYPE_CHECKING:
    from gb10dash.ui.app import Gb10DashApp


class TuiPort:
    def __init__(self, app: Gb10DashApp, host: str, *, unasked: bool = False):
        """`unasked`: run without a question (the wedge canary's auto-restart; read-only still refuses)."""
        self.app, self.host, self.unasked = app, host, unasked
        self.view = ActionView(host, "action")

    async def confirm(self, plan: Plan, question: str, ask: Ask) -> bool:
        if self.app.refused_read_only(plan.action):  # the one door to the executor: shut when read-only
            return False
        if self.unasked:
            return True
        go: bool = await self.app.push_screen_wait(ConfirmScreen(question[:1].upper() + question[1:], plan.describe()))
        return go

    def say(self, text: str, *, title: str = "", level: Level = "information") -> None:
        timeout = 20 if "\n" in text else (8 if level != "information" else 4)
        self.app.notify(text, title=title, severity=level, timeout=timeout)

    def _show(self, view: ActionView | None) -> None:
        self.app.post_message(ActionChanged(self.host, view))

    def stage(self, title: str) -> None:
        self.view = ActionView(self.host, self.app.workflows.running.get(self.host, self.view.action), title=title)
        self._show(self.view)

    def progress(self, step: Progress) -> None:
        self.view = self.view.advanced(step)
        self._show(self.view)
        waiting = step.status is StepStatus.PROGRESS and step.percent is None and step.elapsed_s % 10 < 0.6
        if step.status in (StepStatus.OK, StepStatus.FAILED) or waiting:
            self.app.notify(
                f"{self.host}: {step.title} — {step.status} {step.detail}".rstrip(),
                timeout=4,
                severity="error" if step.status is StepStatus.FAILED else "information",
            )

    def report(self, plan: Plan, result: PlanResult) -> None:
        if result.ok:
            done = f"{self.host}: {plan.action} done in {result.record.duration_s:.1f} s"
            self.app.notify(done, title="done", timeout=6)
            return
        tail = "\n".join(result.journal[-8:])
        self.app.notify(
            f"{result.error}" + (f"\n{tail}" if tail else ""),
            title=f"{self.host}: {plan.action} failed" + (" (rolled back)" if result.rolled_back else ""),
            severity="error",
            timeout=20,
        )

    @contextlib.contextmanager
    def running(self, plan: Plan) -> Iterator[None]:
        app, host = self.app, self.host
        app.workflows.running[host] = plan.action
        task = asyncio.current_task()
        if task is not None:
            app.workflows.tasks[host] = task  # x cancels it; a signal cancels every one
        self.view = ActionView(host, plan.action, total=len(plan.steps))
        self._show(self.view)
        app.notify(f"{host}: {plan.action} started", timeout=3)
        try:
            yield
        finally:
            app.workflows.tasks.pop(host, None)

    def stopped(self, plan: Plan, result: PlanResult | None) -> bool:
        self.app.safety.plan_cancelled(self.host, plan, result)
        return False  # the worker ends cancelled (a signal waits for it to exit with 3 or 4)

    async def choose_model(self, host: str, share: str, candidates: Sequence[ModelCandidate]) -> ModelCandidate | None:
        shown = self.app.shown.get(host)
        picker = ModelPicker(host, share, list(candidates), shown.model_id if shown else None)
        chosen: ModelCandidate | None = await self.app.push_screen_wait(picker)
        return chosen
