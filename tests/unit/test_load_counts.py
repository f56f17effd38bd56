"""Model loads counted for the exporter's lifecycle series: a load seen to end healthy, a load whose process
went away first (crashed, restarted), and a poll that failed mid-load (neither). Unit states from recorded
`systemctl show` output; the served model is an mmap load, so the watcher estimates (no /proc reads)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.systemd import parse_systemctl_show
from gb10dash.core.load_progress import LoadHistory
from gb10dash.core.load_watch import LoadCounts, LoadWatcher
from gb10dash.transport.local import LocalTransport

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "systemd"
LOADING, OK, DOWN = (
    Health(HealthState.LOADING, 503, None),
    Health(HealthState.OK, 200, None),
    Health(HealthState.DOWN, None, "refused"),
)


def watcher(tmp_path: Path) -> LoadWatcher:
    return LoadWatcher(LocalTransport("h"), "h", "/m.gguf", LoadHistory(tmp_path / "load-times.json"))


async def test_loads_that_end_healthy_and_loads_whose_process_went_away(tmp_path: Path) -> None:
    active = parse_systemctl_show((FIXTURES / "show-active.txt").read_text())
    assert active.started_at is not None and active.is_running
    failed = parse_systemctl_show((FIXTURES / "show-failed.txt").read_text())
    restarted = dataclasses.replace(active, main_pid=(active.main_pid or 0) + 1, started_at=active.started_at + 40)
    w = watcher(tmp_path)
    t = active.started_at
    assert w.counts == LoadCounts()
    await w.poll(active, LOADING, t + 5)
    await w.poll(active, Health(HealthState.ERROR, None, "timed out"), t + 6)  # a poll that failed mid-load
    await w.poll(active, LOADING, t + 7)
    await w.poll(active, OK, t + 12)
    assert w.counts == LoadCounts(1, 0, 12.0)
    await w.poll(active, OK, t + 13)  # healthy again: no second load
    await w.poll(restarted, LOADING, t + 41)
    await w.poll(failed, DOWN, t + 45)  # the loading process died
    assert w.counts == LoadCounts(1, 1, 12.0)
    await w.poll(restarted, LOADING, t + 50)
    again = dataclasses.replace(restarted, main_pid=(restarted.main_pid or 0) + 1)
    await w.poll(again, LOADING, t + 52)  # restarted mid-load: that load failed, the new one goes on
    assert w.counts == LoadCounts(1, 2, 12.0)


async def test_a_unit_read_before_the_restart_is_not_taken_for_the_loading_process(tmp_path: Path) -> None:
    """/health already answers from the restarted server while the unit state is still the one read
    before the restart (the healthy process, then the one stopping): no failed load is counted, and the
    load is timed from the new process's start (seen in CI: LoadCounts(1, 1, …) for one clean restart)."""
    active = parse_systemctl_show((FIXTURES / "show-active.txt").read_text())
    assert active.started_at is not None
    stopping = dataclasses.replace(active, active_state="deactivating", sub_state="stop-sigterm")
    restarted = dataclasses.replace(active, main_pid=(active.main_pid or 0) + 1, started_at=active.started_at + 40)
    w = watcher(tmp_path)
    t = active.started_at
    await w.poll(active, OK, t + 30)
    assert await w.poll(active, LOADING, t + 41) is None  # the old unit state, the new server's answer
    assert await w.poll(stopping, LOADING, t + 42) is None
    assert w.counts == LoadCounts()
    assert await w.poll(restarted, LOADING, t + 43) is not None
    await w.poll(restarted, OK, t + 50)
    assert w.counts == LoadCounts(1, 0, 10.0)
    assert [seconds for _model, seconds in w.recorded] == [10.0]


async def test_an_activating_unit_is_the_loading_process(tmp_path: Path) -> None:
    """A Type=notify unit stays activating through its server's load: that is the load, watched at once."""
    active = parse_systemctl_show((FIXTURES / "show-active.txt").read_text())
    assert active.started_at is not None
    activating = dataclasses.replace(active, active_state="activating", sub_state="start")
    w = watcher(tmp_path)
    assert await w.poll(activating, LOADING, active.started_at + 2) is not None
