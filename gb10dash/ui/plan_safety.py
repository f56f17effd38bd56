"""What keeps the dashboard's plans from being left half-done: signals and recovery.

SIGTERM, SIGHUP (the terminal closed) and SIGINT while actions run cancel them; each undoes what it
had changed (the executor's cancel path, which a second signal does not cut short), then the app
exits with 3 (undone) or 4 (an undo failed: `gb10dash recover HOST`). A plan that ended on its own as
the signal came (nothing left to cancel) is not called undone: the app exits 0 and says how it ended.
With no action running the app just exits. An exit a signal asked for is watched (ui/exit_watchdog.py):
the process ends even when Textual's shutdown waits on a terminal that is gone. (`R`, the recovery
itself, is the actions' recover workflow.)
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.interrupt import Saved, install_handlers, restore_handlers

if TYPE_CHECKING:
    from gb10dash.actions.executor import PlanResult
    from gb10dash.actions.plan import Plan
    from gb10dash.ui.app import Gb10DashApp
    from gb10dash.ui.exit_watchdog import ExitWatchdog

EXIT_INTERRUPTED, EXIT_NOT_UNDONE = 3, 4  # as the command line's (actions/cli.py)


class PlanSafety:
    """The app's signal handlers and what a cancelled plan says (it uses the app's running actions,
    notify and workers)."""

    def __init__(self, app: Gb10DashApp, watchdog: ExitWatchdog | None = None):
        """`watchdog`: armed when a signal's exit begins (the command line's; none in tests' pilots)."""
        self.app = app
        self.watchdog = watchdog
        self._signal_seen: str | None = None
        self._saved_handlers: Saved | None = None
        self._undo_failed_on: tuple[str, ...] = ()  # hosts whose cancelled plan's undo failed
        self._stopped_on: tuple[str, ...] = ()  # hosts whose plan a cancel stopped (undone or nothing to undo)

    def plan_cancelled(self, host: str, plan: Plan, result: PlanResult | None) -> None:
        """A running plan was cancelled (the x key, a signal): say how its undo went."""
        self._stopped_on += (host,)
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
            self._exit()
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
        interrupted = dict(self.app.workflows.running)
        self.app.run_worker(self._exit_when_undone(name, tasks, interrupted), group="signal", exit_on_error=False)

    async def _exit_when_undone(self, name: str, tasks: list[asyncio.Task[Any]], interrupted: dict[str, str]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)  # each ends when its undo has
        if self._undo_failed_on:
            self._exit(return_code=EXIT_NOT_UNDONE)
            return
        ended = {host: action for host, action in interrupted.items() if host not in self._stopped_on}
        if not ended:
            self._exit(return_code=EXIT_INTERRUPTED)
            return
        said = "; ".join(f"{action} on {host}" for host, action in ended.items())
        self._exit(
            message=f"gb10dash: {name} came as {said} ended on its own: nothing of it was undone "
            f"(how it ended is in {AuditLog().path})"
        )

    def _exit(self, return_code: int = 0, message: str | None = None) -> None:
        if self.watchdog is not None:
            self.watchdog.arm(return_code)
        self.app.exit(return_code=return_code, message=message)
