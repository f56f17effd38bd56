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
