"""The GPU clock series of the exporter: SM clock ratio, one series per clock event reason, throttled."""

from __future__ import annotations

import pytest
from alert_states import T0, healthy
from test_exporter_metrics import scrape

from gb10dash.collectors.clock_reasons import REASONS
from gb10dash.collectors.gpu import GpuSample

H = (("host", "pegasus"),)


def reasons(got) -> dict[str, float]:
    return {dict(labels)["reason"]: v for (name, labels), v in got.items() if name == "gb10dash_gpu_throttle_active"}


def test_hw_thermal_slowdown_and_the_clock_ratio() -> None:
    gpu = GpuSample(sm_clock_mhz=1395.0, sm_clock_max_mhz=3003.0, clocks_event_reasons=0x8 | 0x40, power_w=30.0)
    got = scrape([healthy(T0, gpu=gpu)])
    assert got[("gb10dash_gpu_sm_clock_ratio", H)] == pytest.approx(1395 / 3003)
    assert reasons(got) == {r.key: (1.0 if r.key in ("hw_slowdown", "hw_thermal_slowdown") else 0.0) for r in REASONS}
    assert got[("gb10dash_gpu_throttled", H)] == 1


def test_idle_is_not_throttled_and_unreported_figures_have_no_series() -> None:
    got = scrape([healthy(T0, gpu=GpuSample(sm_clock_mhz=345.0, sm_clock_max_mhz=1980.0, clocks_event_reasons=1))])
    assert reasons(got)["gpu_idle"] == 1 and sum(reasons(got).values()) == 1
    assert got[("gb10dash_gpu_throttled", H)] == 0
    none = scrape([healthy(T0, gpu=GpuSample(sm_clock_mhz=345.0))])  # no max, no bitmask ([N/A])
    assert not any(
        name in ("gb10dash_gpu_sm_clock_ratio", "gb10dash_gpu_throttle_active", "gb10dash_gpu_throttled")
        for name, _ in none
    )
