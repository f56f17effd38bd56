"""PSI (/proc/pressure/memory): the parser on this machine's recorded file, the memory_pressure alert rule,
the panel's 'stalled' figure, status --json and the exporter's series."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ui.states import pegasus  # a state built from recorded outputs

from gb10dash.alerts.rules import memory_pressure
from gb10dash.alerts.settings import DEFAULT_RULES
from gb10dash.cli.status_json import host_document
from gb10dash.collectors.pressure import MemoryPressure, PressureLine, parse_pressure
from gb10dash.exporter.metrics import families
from gb10dash.ui.widgets.labels import lines
from gb10dash.ui.widgets.memory import memory_rows

RECORDED = (Path(__file__).resolve().parents[1] / "fixtures" / "proc" / "pressure-memory-idle.txt").read_text()


def stalled(some: float, full: float) -> MemoryPressure:
    return MemoryPressure(PressureLine(some, some, some, 123_456_789), PressureLine(full, full, full, 23_456_789))


def test_the_recorded_file_parses() -> None:
    assert parse_pressure(RECORDED) == MemoryPressure(PressureLine(0.0, 0.0, 0.0, 0), PressureLine(0.0, 0.0, 0.0, 0))


def test_a_kernel_without_the_full_line_and_bad_text() -> None:
    only_some = RECORDED.splitlines()[0] + "\n"
    assert parse_pressure(only_some).full is None
    with pytest.raises(ValueError, match=r"/proc/pressure/memory: expected 'some avg10=… avg60=… avg300=… total=…'"):
        parse_pressure("some avg10=0.00 total=0\n")
    with pytest.raises(ValueError, match="no 'some' line"):
        parse_pressure("")


def test_the_rule_fires_on_some_or_full_and_says_both() -> None:
    s = DEFAULT_RULES["memory_pressure"]
    calm = dataclasses.replace(pegasus(), memory_pressure=parse_pressure(RECORDED))
    assert memory_pressure(calm, s, 0, None) is None  # type: ignore[arg-type]
    some = memory_pressure(dataclasses.replace(calm, memory_pressure=stalled(12.5, 0.0)), s, 0, None)  # type: ignore[arg-type]
    assert some is not None and "stalled 12.5 % of the last 10 s (some)" in some.message
    full = memory_pressure(dataclasses.replace(calm, memory_pressure=stalled(3.0, 2.5)), s, 0, None)  # type: ignore[arg-type]
    assert full is not None and "all at once 2.5 % (full)" in full.message


def test_panel_status_and_exporter_show_it() -> None:
    state = dataclasses.replace(pegasus(), memory_pressure=stalled(12.5, 2.5))
    assert "stalled 12%/2%" in lines(*memory_rows(state, 100)).plain  # some/full avg10, whole percents
    assert "stalled" not in lines(*memory_rows(pegasus(), 100)).plain  # not read: nothing shown
    pressure = host_document(state)["memory"]["pressure"]
    assert pressure["some"] == {"avg10": 12.5, "avg60": 12.5, "avg300": 12.5, "total_us": 123_456_789}
    (ratio,) = [f for f in families([state], [], 0) if f.name == "gb10dash_memory_pressure_ratio"]
    values = {(x.labels["kind"], x.labels["window"]): x.value for x in ratio.samples}
    assert values[("some", "10s")] == 0.125 and values[("full", "300s")] == 0.025
