"""What keeps the dashboard's plans from being left half-done: signals and recovery.

SIGTERM, SIGHUP (the terminal closed) and SIGINT while actions run cancel them; each undoes what it
had changed (the executor's cancel path, which a second signal does not cut short), then the app
exits with 3 (undone) or 4 (an undo failed: `gb10dash recover HOST`). With no action running the
app just exits. `R` on a host whose plan never ended shows the recovery plan and runs it.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.executor import PlanResult
from gb10dash.actions.interrupt import Saved, install_handlers, restore_handlers
from gb10dash.actions.plan import Plan
from gb10dash.actions.recover import close_unfinished, find_interrupted, plan_recovery
from gb10dash.transport.base import TransportError

if TYPE_CHECKING:
    from gb10dash.ui.app import Gb10DashApp

EXIT_INTERRUPTED, EXIT_NOT_UNDONE = 3, 4  # as the command line's (actions/cli.py)


class PlanSafety:
    """Mixed into the app (it uses its monitors, running actions, notify and workers)."""

    _signal_seen: str | None = None
    _saved_handlers: Saved | None = None
    _undo_failed_on: tuple[str, ...] = ()  # hosts whose cancelled plan's undo failed

    def plan_cancelled(self: Gb10DashApp, host: str, plan: Plan, result: PlanResult | None) -> None:
        """A running plan was cancelled (the x key, a signal): say how its undo went."""
        if result is not None and result.undo_failed:
            self._undo_failed_on += (host,)
            self.notify(
                f"{host}: {plan.action} cancelled, and undoing it failed: R (recover) finishes it",
                title="cancelled",
                severity="error",
                timeout=20,
            )
        else:
            self.notify(
                f"{host}: {plan.action} cancelled"
                + ("; what it had changed was undone" if result is not None and result.rolled_back else ""),
                title="cancelled",
                severity="warning",
                timeout=8,
            )

    def install_signal_handlers(self: Gb10DashApp) -> None:
        self._saved_handlers = install_handlers(self._signal_received)

    def remove_signal_handlers(self: Gb10DashApp) -> None:
        if self._saved_handlers is not None:
            restore_handlers(self._saved_handlers)
            self._saved_handlers = None

    def _signal_received(self: Gb10DashApp, signum: int) -> None:
        name = signal.Signals(signum).name
        if self._signal_seen is not None:
            self.notify(f"{name}: already undoing; the dashboard exits when the undo ends", severity="warning")
            return
        self._signal_seen = name
        tasks = list(self._action_tasks.values())
        if not tasks:
            self.exit()
            return
        self.notify(
            f"{name}: stopping {', '.join(f'{a} on {h}' for h, a in self.actions_running.items())} and "
            f"undoing what it changed, then exiting",
            title="interrupted",
            severity="warning",
            timeout=30,
        )
        for task in tasks:
            task.cancel(f"interrupted by {name}")
        self.run_worker(self._exit_when_undone(tasks), group="signal", exit_on_error=False)

    async def _exit_when_undone(self: Gb10DashApp, tasks: list[asyncio.Task[object]]) -> None:
        await asyncio.gather(*tasks, return_exceptions=True)  # each ends when its undo has
        self.exit(return_code=EXIT_NOT_UNDONE if self._undo_failed_on else EXIT_INTERRUPTED)

    async def action_recover(self: Gb10DashApp) -> None:
        monitor = self._live_monitor()
        if monitor is None:
            return
        host = monitor.host
        try:
            found = await find_interrupted(host, monitor.transport)
        except TransportError as exc:
            self.notify(str(exc), title=f"{host.name}: cannot look for an interrupted plan", severity="error")
            return
        if found.marker_error is not None:
            self.notify(
                f"{found.marker_error}; look at it and remove it by hand",
                title=f"{host.name}: recover",
                severity="error",
                timeout=12,
            )
            return
        if not found.any:
            self.notify(f"{host.name}: nothing to recover", timeout=4)
            return
        for line in close_unfinished(found, AuditLog()):
            self.notify(line, title=f"{host.name}: record closed", timeout=8)
        if found.pending is None:
            self.call_later(monitor.poll_plans)
            return
        self._confirm_and_run(
            plan_recovery(found.pending, host.name),
            host.name,
            host.unit,
            title=f"Undo the interrupted {found.pending.action} on {host.name}?",
        )
