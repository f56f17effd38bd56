"""Snapshot tests of the main screen (the real app) fed with fixed states (tests/ui/states.py):
no clock, no live data, no monitors.

Regenerate after an intended layout change with
`.venv/bin/python -m pytest tests/ui --snapshot-update`, then look at the SVGs before committing.
"""

from __future__ import annotations

import dataclasses

import pytest

from gb10dash.bench.history import HistoryEntry
from gb10dash.collectors.journal import parse_journal_line
from gb10dash.config import Config
from gb10dash.core.state import HostState
from gb10dash.ui.app import Gb10DashApp

from . import states

WIDE, NARROW = (160, 48), (80, 24)
THEMES = ["gb10-dark", "gb10-contrast", "gb10-light"]


def with_log(state: HostState) -> HostState:
    """The focused host's journal tail (recorded lines) for the log pane under the panels."""
    lines = states.read("journal/new-gen-h100.jsonl").splitlines()
    entries = tuple(e for e in map(parse_journal_line, lines) if e is not None)
    return dataclasses.replace(state, recent_log=entries)


def bench_runs(shown: list[HostState]) -> dict[str, list[HistoryEntry]]:
    """Two recorded bench runs of the first host's model (the panel shows the last, one before)."""
    first = shown[0]
    runs = [
        HistoryEntry(
            ts=states.NOW - hours * 3600,
            host=first.name,
            model=first.model_id or "",
            build="b7999",
            prompt_tokens=2048,
            gen_tokens=256,
            gen_tps=gen,
            prompt_tps=prompt,
            ttft_s=1.2,
            regression=False,
            doc={},
        )
        for hours, gen, prompt in ((26, 58.1, 1795.0), (2, 57.6, 1811.4))
    ]
    return {first.name: runs}


def app_for(shown: list[HostState], theme: str = "gb10-dark") -> Gb10DashApp:
    shown = [with_log(shown[0]), *shown[1:]]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(
        config,
        states={s.name: s for s in shown},
        histories=states.histories_for(shown),
        now=states.NOW,
        bench=bench_runs(shown),
    )
    app.theme = theme
    return app


def two_healthy() -> list[HostState]:
    return [states.pegasus(), states.stella()]


def test_wide_two_hosts(snap_compare) -> None:
    assert snap_compare(app_for(two_healthy()), terminal_size=WIDE)


def test_narrow_stacked(snap_compare) -> None:
    assert snap_compare(app_for(two_healthy()), terminal_size=NARROW)


@pytest.mark.parametrize("theme", THEMES)
def test_theme(snap_compare, theme: str) -> None:
    assert snap_compare(app_for(two_healthy(), theme), terminal_size=(120, 36))


def test_one_host_unreachable(snap_compare) -> None:
    assert snap_compare(app_for([states.unreachable(), states.stella()]), terminal_size=WIDE)


def test_gb10_memory_not_available(snap_compare) -> None:
    """GB10: nvidia-smi says [N/A] for memory; the bar is /proc/meminfo's, and says so."""
    pegasus = states.pegasus()
    assert pegasus.gpu is not None and not pegasus.gpu.memory_supported
    assert snap_compare(app_for([pegasus]), terminal_size=(100, 40))


def test_stopped_and_loading_narrow(snap_compare) -> None:
    assert snap_compare(app_for([states.loading(), states.stopped()]), terminal_size=NARROW)


def test_three_hosts(snap_compare) -> None:
    shown = [states.pegasus(), states.stella(), states.stopped("orion")]
    assert snap_compare(app_for(shown), terminal_size=WIDE)


def test_eight_hosts(snap_compare) -> None:
    shown = [
        states.pegasus(),
        states.stella(),
        states.stopped("orion"),
        states.loading("vega"),
        states.unreachable("lyra"),
        states.healthy_copy(states.pegasus(), "atlas"),
        states.healthy_copy(states.stella(), "draco"),
        states.healthy_copy(states.pegasus(), "hydra"),
    ]
    assert snap_compare(app_for(shown), terminal_size=WIDE)


@pytest.mark.parametrize(
    ("hosts", "size", "shape"),
    [
        (1, (160, 48), (1, 1)),
        (2, (160, 48), (2, 1)),
        (3, (160, 48), (3, 1)),
        (8, (160, 48), (4, 2)),
        (2, (119, 48), (1, 2)),
        (2, (80, 24), (1, 2)),
        (3, (200, 60), (3, 1)),
    ],
)
def test_grid_shape(hosts: int, size: tuple[int, int], shape: tuple[int, int]) -> None:
    from textual.geometry import Size

    from gb10dash.ui.widgets.host_grid import grid_shape

    assert grid_shape(hosts, Size(*size)) == shape
