"""The dashboard's side of the actions: a key starts one of the actions' workflows in a worker (one
action per host at a time), its ActionChanged messages drive the progress bar, x cancels the running
plan (its undo runs), and quitting while one runs asks first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from gb10dash.core.monitor import HostMonitor
from gb10dash.ui.messages import ActionChanged
from gb10dash.ui.screens.confirm import ConfirmScreen
from gb10dash.ui.widgets.action_progress import ActionProgress, ActionView

if TYPE_CHECKING:
    from gb10dash.actions.port import Outcome
    from gb10dash.actions.workflows import Workflows
    from gb10dash.ui.app import Gb10DashApp

Body = Callable[["Workflows"], Awaitable["Outcome"]]


class WorkflowRunner:
    def __init__(self, app: Gb10DashApp):
        self.app = app
        self.running: dict[str, str] = {}  # host -> its action, from the key press to the end
        self.views: dict[str, ActionView] = {}  # host -> what its running action shows
        self.tasks: dict[str, asyncio.Task[Any]] = {}  # host -> its running plan's task (x cancels it)

    def live_monitor(self, name: str) -> HostMonitor | None:
        monitor = self.app.monitors.get(name)
        if monitor is None:
            self.app.notify("no live connection in this view", severity="warning")
        elif name in self.running:
            self.app.notify(f"{name}: {self.running[name]} is still running; wait for it to finish", severity="warning")
            return None
        return monitor

    def start(self, name: str, body: Body, *, unasked: bool = False) -> None:
        """Plan, confirm on a screen, run, report — through the TuiPort, in a worker."""
        monitor = self.live_monitor(name)
        if monitor is not None:
            self.running[name] = "planning"
            self.app.run_worker(self._run(monitor, body, unasked), exit_on_error=False, group="actions")

    async def _run(self, monitor: HostMonitor, body: Body, unasked: bool) -> None:
        # the actions (executor, workflows, their screens) are imported at the first action, not at start
        from gb10dash.actions.workflows import Workflows
        from gb10dash.ui.action_port import TuiPort

        name = monitor.host.name
        try:
            await body(Workflows(monitor, TuiPort(self.app, name, unasked=unasked)))
        finally:
            self.running.pop(name, None)
            self.app.post_message(ActionChanged(name, None))
            self.app.call_later(monitor.poll_plans)  # a plan that ended (or a recovery) clears the banner at once

    def changed(self, message: ActionChanged) -> None:
        if message.view is None:
            self.views.pop(message.host, None)
        else:
            self.views[message.host] = message.view
        self.show()

    def show(self) -> None:
        view = self.views.get(self.app.focused_host) or next(iter(self.views.values()), None)
        self.app.query_one(ActionProgress).show(view)

    def cancel(self) -> None:
        focused = self.app.focused_host
        host = focused if focused in self.tasks else next(iter(self.tasks), None)
        if host is None:
            self.app.notify("no action is running", severity="information", timeout=3)
            return

        def answered(go: bool | None) -> None:
            task = self.tasks.get(host)
            if go and task is not None:
                task.cancel()

        lines = [
            "The running command is killed on the host (a build with all its compilers); steps already done are "
            "undone, as on a failure."
        ]
        self.app.push_screen(
            ConfirmScreen(f"Cancel {self.running.get(host, 'the action')} on {host}?", lines), answered
        )

    def quit(self) -> None:
        if not self.running:
            self.app.exit()
            return
        running = ", ".join(f"{a} on {h}" for h, a in self.running.items())
        lines = [
            f"Still running: {running}.",
            "Quitting stops watching it; the host finishes or fails on its own, and the audit log may miss the end.",
        ]
        self.app.push_screen(
            ConfirmScreen("Quit while an action runs?", lines), lambda go: self.app.exit() if go else None
        )
