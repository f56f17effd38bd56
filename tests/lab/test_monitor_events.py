"""The unit's state follows what systemd says in the journal (and the MainPID's /proc entry), not a
poll: with the `systemctl show` backstop at 30 s, a stop and a start through the host's own systemctl
reach the monitor's state within 1.5 s each. Figures printed (-s)."""

from __future__ import annotations

import asyncio
import time

from gb10dash.core.monitor import Cadence
from gb10dash.lab import Lab

from . import labctl
from .faultctl import monitor_for, running
from .labctl import until

# the dashboard's cadence at a 1 s refresh; the backstops far beyond the test's waits
CADENCE = Cadence(fast_s=1.0, slow_s=5.0, unit_backstop_s=30.0, apps_backstop_s=60.0, gpu_ms=1000)
SHOWN_WITHIN_S = 1.5
UNIT = "llama-server.service"


async def systemctl(lab: Lab, host: str, verb: str) -> float:
    """Run `systemctl VERB` on the host; the time it returned (the host's state is then settled)."""
    done = await asyncio.to_thread(labctl.shim, lab, host, "systemctl", verb, UNIT)
    assert done.returncode == 0, done.stderr
    return time.monotonic()


async def test_stop_and_start_reach_the_state_by_event_not_by_the_backstop(lab: Lab) -> None:
    monitor = monitor_for(lab, "stella", cadence=CADENCE)
    try:
        async with running(monitor):
            first = await until(
                lambda: (u := monitor.state.unit) and u.is_running and monitor._journal_live and u,
                30,
                "a running unit and a following journal stream",
            )
            await asyncio.sleep(1.0)  # the startup's polls are done; from here only events (or the backstop)
            started = time.monotonic()

            stopped_at = await systemctl(lab, "stella", "stop")
            await until(lambda: (u := monitor.state.unit) and u.active_state == "inactive", 10, "inactive shown")
            stop_seen = time.monotonic() - stopped_at

            started_at = await systemctl(lab, "stella", "start")
            unit = await until(
                lambda: (u := monitor.state.unit) and u.is_running and u.main_pid != first.main_pid and u,
                10,
                "the new MainPID shown",
            )
            start_seen = time.monotonic() - started_at
            assert time.monotonic() - started < CADENCE.unit_backstop_s  # no backstop poll could have done it
            print(
                f"\nunit state by event (backstop {CADENCE.unit_backstop_s:g} s): stop shown {stop_seen:.2f} s, "
                f"start shown {start_seen:.2f} s after systemctl returned"
            )
            assert stop_seen <= SHOWN_WITHIN_S and start_seen <= SHOWN_WITHIN_S
            assert unit.main_pid == (await asyncio.to_thread(_main_pid, lab))
    finally:
        if "active" not in labctl.shim(lab, "stella", "systemctl", "is-active", UNIT).stdout:
            labctl.shim(lab, "stella", "systemctl", "start", UNIT)
        await until(lambda: _healthy(lab), 60, "stella's llama-server healthy again")


def _main_pid(lab: Lab) -> int:
    out = labctl.shim(lab, "stella", "systemctl", "show", UNIT, "-p", "MainPID", "--value").stdout
    return int(out.strip())


def _healthy(lab: Lab) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{lab.host('stella').api_url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
