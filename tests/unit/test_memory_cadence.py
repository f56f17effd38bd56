"""When memory is read every fast poll and when only every steady poll (issue 22): monitor.memory_busy
and monitor.memory_moved, on recorded /proc/meminfo and systemctl show output."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.memory import parse_meminfo
from gb10dash.collectors.systemd import parse_systemctl_show
from gb10dash.core.host_record import Cadence
from gb10dash.core.monitor import MEMORY_MOVING_SHARE, memory_busy, memory_moved

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MEMINFO = parse_meminfo((FIXTURES / "proc" / "meminfo-gb10.txt").read_text())
ACTIVE = parse_systemctl_show((FIXTURES / "systemd" / "show-active.txt").read_text())
OK = Health(HealthState.OK, 200, None)
LOADING = Health(HealthState.LOADING, 503, "Loading model")


def test_the_fixtures_say_what_the_cases_need() -> None:
    assert ACTIVE.is_running and ACTIVE.main_pid
    assert MEMINFO.total_kib and MEMINFO.available_kib


def test_a_steady_host_is_not_busy() -> None:
    assert not memory_busy(OK, ACTIVE, ACTIVE.main_pid, moving=False)


@pytest.mark.parametrize(
    "why, health, unit, read_pid, moving",
    [
        ("no health yet", None, ACTIVE, ACTIVE.main_pid, False),
        ("the model loading", LOADING, ACTIVE, ACTIVE.main_pid, False),
        ("no unit state yet", OK, None, ACTIVE.main_pid, False),
        (
            "the unit on its way somewhere",
            OK,
            dataclasses.replace(ACTIVE, sub_state="auto-restart"),
            ACTIVE.main_pid,
            False,
        ),
        ("a new MainPID", OK, ACTIVE, (ACTIVE.main_pid or 0) + 1, False),
        ("memory moving", OK, ACTIVE, ACTIVE.main_pid, True),
    ],
)
def test_a_host_is_busy(why: str, health, unit, read_pid, moving: bool) -> None:
    assert memory_busy(health, unit, read_pid, moving), why


def test_memory_moved_by_more_than_its_share_of_the_total() -> None:
    total, available = MEMINFO.total_kib or 0, MEMINFO.available_kib or 0
    step = int(MEMORY_MOVING_SHARE * total)
    assert not memory_moved(MEMINFO, MEMINFO)
    assert not memory_moved(MEMINFO, dataclasses.replace(MEMINFO, available_kib=available - step))
    assert memory_moved(MEMINFO, dataclasses.replace(MEMINFO, available_kib=available - step - 1))
    assert memory_moved(MEMINFO, dataclasses.replace(MEMINFO, available_kib=available + step + 1))


def test_memory_that_cannot_be_compared_counts_as_moving() -> None:
    no_available = parse_meminfo((FIXTURES / "proc" / "meminfo-no-available.txt").read_text())
    assert memory_moved(None, MEMINFO)
    assert memory_moved(MEMINFO, None)
    assert memory_moved(no_available, no_available)


def test_the_steady_cadence_follows_the_fast_one_unless_set() -> None:
    assert Cadence().memory_steady_s == 5.0
    assert Cadence(fast_s=0.3).memory_steady_s == pytest.approx(1.5)
    assert Cadence(fast_s=0.3, steady_s=2.0).memory_steady_s == 2.0
