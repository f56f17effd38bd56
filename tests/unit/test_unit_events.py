"""Which journal entries mean "systemd changed the unit" (the monitor then re-reads `systemctl show`),
and the /proc/PID/stat start time that identifies a stat session's server (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.collectors.journal import parse_journal_line
from gb10dash.collectors.systemd import UnitStatus, is_transitional, is_unit_event
from gb10dash.transport.ssh import proc_start_time

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UNIT = "llama-server.service"


def events(name: str) -> list[tuple[str, bool]]:
    entries = [parse_journal_line(line) for line in (FIXTURES / "journal" / name).read_text().splitlines()]
    return [(e.message, is_unit_event(e.message, e.pid, UNIT, e.unit)) for e in entries if e is not None]


def test_systemd_lines_of_a_failed_start_are_events_and_the_servers_own_lines_are_not() -> None:
    found = events("start-failure.jsonl")
    assert [m for m, event in found if event] == [
        "llama-server.service: Main process exited, code=exited, status=1/FAILURE",
        "llama-server.service: Failed with result 'exit-code'.",
        "llama-server.service: Scheduled restart job, restart counter is at 5.",
    ]
    assert any("exiting due to model loading error" in m for m, event in found if not event)


@pytest.mark.parametrize(
    "message, pid, unit, expected",
    [
        ("Stopping llama-server.service - llama.cpp server...", 1, UNIT, True),
        ("Stopped llama-server.service - llama.cpp server.", 1, UNIT, True),
        ("Started llama-server.service - llama.cpp server.", 1, UNIT, True),
        ("llama-server.service: Deactivated successfully.", 1, UNIT, True),
        ("Stopping llama-server.service - llama.cpp server...", 1, "other.service", False),  # another unit
        ("Stopping the main loop", 4242, UNIT, False),  # the server's own line, not PID 1
        ("Started llama-server.service - llama.cpp server.", 1, None, False),
    ],
)
def test_unit_event(message: str, pid: int, unit: str | None, expected: bool) -> None:
    assert is_unit_event(message, pid, UNIT, unit) is expected


def unit(active: str, sub: str) -> UnitStatus:
    return UnitStatus(active, sub, None, None, None, None, None, (), None, ())


def test_transitional_states() -> None:
    assert is_transitional(unit("deactivating", "stop-sigterm"))
    assert is_transitional(unit("activating", "auto-restart"))
    assert not is_transitional(unit("active", "running"))
    assert not is_transitional(unit("failed", "failed"))
    assert not is_transitional(unit("inactive", "dead"))


def test_proc_start_time_from_a_recorded_stat() -> None:
    recorded = (FIXTURES / "proc" / "stat-lab-sshd.txt").read_bytes()
    assert proc_start_time(recorded) == (13231, 1242636)
    # a command name holding spaces and ')' does not shift the fields
    odd = recorded.replace(b"(sshd)", b"(a) b (c))")
    assert proc_start_time(odd) == (13231, 1242636)
    with pytest.raises(ValueError):
        proc_start_time(b"")
