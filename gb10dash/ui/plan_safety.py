"""What keeps the dashboard's plans from being left half-done: signals and recovery.

SIGTERM, SIGHUP (the terminal closed) and SIGINT while actions run cancel them; each undoes what it
had changed (the executor's cancel path, which a second signal does not cut short), then the app
exits with 3 (undone) or 4 (an undo failed: `gb10dash recover HOST`). With no action running the
app just exits. (`R`, the recovery itself, is the actions' recover workflow.)
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

from gb10dash.actions.executor import PlanResult
from gb10dash.actions.interrupt import Saved, install_handlers, restore_handlers
from gb10dash.actions.plan import Plan

if TYPE_CHECKING:
    from gb10dash.ui.app import Gb10DashApp

EXIT_INTERRUPTED, EXIT_NOT_UNDONE = 3, 4  # as the command line's (actions/cli.py)


class PlanSafety:
    """The app's signal handlers and what a cancelled plan says (it uses the app's running actions,
    notify and workers)."""

    def __init__(self, app: Gb10DashApp):
        self.app = app
        self._signal_seen: str | None = None
        self._saved_handlers: Saved | None = None
        self._undo_failed_on: tuple[str, ...] = ()  # hosts whose cancelled plan's undo failed

    def plan_cancelled(self, host: str, plan: Plan, result: PlanResult | None) -> None:
        """A running plan was cancelled (the x key, a signal): say how its undo went."""
        if result is not None and result.undo_failed:
            self._undo_failed_on += (host,)
            self.app.notify(
                f"{host}: {plan.action} cancelled, and undoing it failed: R (recover) finishes it",
                title="cancelled",
                severity="error",
                timeout=20,
            )
        else:
            self.app.notify(
                f"{host}: {plan.action} cancelled"
                + ("; what it had changed was undone" if result is not None and result.rolled_back else ""),
                title="cancelled",
                severity="warning",
                timeout=8,
            )

    def install_signal_handlers(self) -> None:
        self._saved_handlers = install_handlers(self._signal_received)

    def remove_signal_handlers(self) -> None:
        if self._saved_handlers is not None:
            restore_handlers(self._saved_handlers)
            self._saved_handlers = None

    def _signal_received(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self._signal_seen is not None:
            self.app.notify(f"{name}: already undoing; the dashboard exits when the undo ends", severity="warning")
            return
        self._signal_seen = name
        tasks = list(self.app.workflows.tasks.values())
        if not tasks:
            self.app.exit()
            return
        self.app.notify(
            f"{name}: stopping {', '.join(f'{a} on {h}' for h, a in self.app.workflows.running.items())} and "
            f"undoing what it changed, then exiting",
            title="interrupted",
            severity="warning",
            timeout=30,
        )
        for task in tasks:
            task.cancel(f"interrupted by {name}")
        self.app.run_worker(self._exit_when_undone(tasks), group="signal", exit_on_error=False)

    async def _exit_when_undone(self, tasks: list[asyncio.Task[Any]]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)  # each ends when its undo has
        self.app.exit(return_code=EXIT_NOT_UNDONE if self._undo_failed_on else EXIT_INTERRUPTED)
