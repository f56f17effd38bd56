"""Whether a service the plan just (re)started has already failed to come up (pure).

A model that fails to load does not always leave the unit `failed`: with `Restart=on-failure` and a
`RestartSec` that keeps it under the start limit, systemd starts it again and again (auto-restart),
each try reading the model from the share again. The wait step fails as soon as the process the
plan started is gone — the unit in auto-restart or failed, NRestarts above zero (it counts only
automatic restarts since the plan's own restart), or another MainPID — so the rollback starts within
seconds instead of at the load timeout.
"""

from __future__ import annotations

import re

from gb10dash.collectors.systemd import UnitStatus

_REASON = re.compile(r"error|failed|fatal|exiting|abort|out of memory|cannot|unable", re.IGNORECASE)
_SERVER_ERROR = re.compile(r"^\d+\.\d+\.\d+\.\d+ E ")  # llama-server's own log: `0.00.004.887 E srv …`
# systemd's own lines about the unit say that it failed, not why
_MANAGER = re.compile(r"^(\S+\.service: |(Failed to start|Started|Starting|Stopped|Stopping) )")


def startup_failure(unit: UnitStatus, started_pid: int | None) -> str | None:
    """Why the service the plan started is not coming up, or None while it may still be loading.
    `started_pid`: the MainPID first seen after the restart (None until one was seen)."""
    status = f"exit status {unit.exec_main_status}" if unit.exec_main_status is not None else "no exit status"
    if unit.is_failed:
        if unit.result == "start-limit-hit":
            return "the service hit systemd's start limit (it kept failing at start; `reset-failed` clears it)"
        return f"the service failed while starting ({unit.result or 'no result'}, {status})"
    if unit.is_restarting:
        return (
            f"the server exited ({status}) and systemd is restarting it (auto-restart"
            + (f", restart {unit.n_restarts}" if unit.n_restarts else "")
            + ")"
        )
    if unit.n_restarts:
        times = "once" if unit.n_restarts == 1 else f"{unit.n_restarts} times"
        return f"the server exited and systemd restarted it {times}: the process the plan started is gone"
    if started_pid and unit.main_pid != started_pid:
        return f"the process the restart started (pid {started_pid}) is gone (MainPID now {unit.main_pid or 0})"
    return None


def journal_reason(lines: list[str]) -> str | None:
    """What the service's journal says went wrong: the server's last error line (e.g. `failed to load
    model …`), else its last line that reads like one; systemd's own lines about the unit are skipped."""
    own = [line.strip() for line in lines if line.strip() and not _MANAGER.match(line.strip())]
    errors = [line for line in own if _SERVER_ERROR.match(line)]
    return (
        next((line for line in reversed(errors) if "failed" in line), None)  # names what failed
        or (errors[-1] if errors else None)
        or next((line for line in reversed(own) if _REASON.search(line)), None)
    )
