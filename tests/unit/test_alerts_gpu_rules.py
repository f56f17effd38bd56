"""The GPU clock rules: `throttle` (a slowdown in clocks_event_reasons.active) and `power_low` (power
draw pinned low under load, the GB10 power-negotiation fault) — each rule alone, then through the
engine with an injected clock (for_s, clear_s, a dip that resets the wait), then their config keys."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from alert_states import T0, healthy, unreachable
from test_alerts_config import HOST

from gb10dash.alerts import AlertEngine, AlertSettings, rules
from gb10dash.alerts.rules import UNKNOWN, Recent, observe
from gb10dash.alerts.settings import DEFAULT_RULES
from gb10dash.collectors.gpu import GpuSample, parse_gpu_csv_line
from gb10dash.config import ConfigError, parse_config
from gb10dash.core.state import SourceStatus

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi"


def gpu(reasons: int | None = 0, power: float | None = 45.0, util: float | None = 95.0) -> GpuSample:
    return GpuSample(
        utilization_pct=util,
        power_w=power,
        temperature_c=60.0,
        sm_clock_mhz=1395.0,
        sm_clock_max_mhz=3003.0,
        clocks_event_reasons=reasons,
    )


def check(name: str, state, **changes: object):
    settings = AlertSettings(rules={**DEFAULT_RULES, name: dataclasses.replace(DEFAULT_RULES[name], **changes)})
    return rules.RULES[name](state, settings.rule(name), T0, observe(Recent(), state, T0, settings))


def test_defaults() -> None:
    assert (DEFAULT_RULES["throttle"].for_s, DEFAULT_RULES["throttle"].clear_s) == (60.0, 30.0)
    p = DEFAULT_RULES["power_low"]
    assert (p.for_s, p.clear_s, p.max_power_w, p.min_util_pct) == (60.0, 30.0, 40.0, 80.0)


def test_throttle_names_the_slowdowns_and_ignores_idle_and_clock_settings() -> None:
    found = check("throttle", healthy(gpu=gpu(0x8 | 0x40)))
    assert found.severity == "warning" and found.message == "GPU clocks held down: HW thermal slowdown"
    assert check("throttle", healthy(gpu=gpu(0x4 | 0x20))).message == (
        "GPU clocks held down: SW power cap, SW thermal slowdown"
    )
    for mask in (0x0, 0x1, 0x2, 0x100, 0x1 | 0x2):
        assert check("throttle", healthy(gpu=gpu(mask))) is None, hex(mask)
    # the real GB10 line under load (bitmask 0x0) is fine
    gb10 = parse_gpu_csv_line((FIX / "gb10-query-gpu-nounits.csv").read_text())
    assert check("throttle", healthy(gpu=gb10)) is None


def test_power_low_under_load_only() -> None:
    found = check("power_low", healthy(gpu=gpu(power=30.4, util=96.0)))
    assert found.severity == "warning"
    assert found.message == "GPU power 30 W at 96% utilization: at most 40 W under load (power negotiation?)"
    assert check("power_low", healthy(gpu=gpu(power=40.0, util=80.0))) is not None  # both bounds inclusive
    assert check("power_low", healthy(gpu=gpu(power=40.1, util=96.0))) is None
    assert check("power_low", healthy(gpu=gpu(power=4.0, util=0.0))) is None  # idle: low power is right
    assert check("power_low", healthy(gpu=gpu(power=4.0, util=79.0))) is None
    assert check("power_low", healthy(gpu=gpu(power=30.0, util=96.0)), max_power_w=25) is None
    assert check("power_low", healthy(gpu=gpu(power=30.0, util=50.0)), min_util_pct=40) is not None
    # the real GB10 line under load: 47.82 W at 96 %
    gb10 = parse_gpu_csv_line((FIX / "gb10-query-gpu-nounits.csv").read_text())
    assert check("power_low", healthy(gpu=gb10)) is None


def test_missing_figures_neither_raise_nor_clear() -> None:
    for name, sample in (("throttle", gpu(None)), ("power_low", gpu(power=None)), ("power_low", gpu(util=None))):
        assert check(name, healthy(gpu=sample)) is UNKNOWN, name
        assert check(name, healthy(gpu=None)) is UNKNOWN, name
        assert check(name, unreachable(T0, since=T0 - 40)) is UNKNOWN, name
    # a sample left over from before the GPU source began to fail is not judged
    stale = healthy(gpu=gpu(0x40, power=30.0), sources={"gpu": SourceStatus(T0 - 30).failed(T0 - 5, "hung")})
    assert check("throttle", stale) is UNKNOWN and check("power_low", stale) is UNKNOWN


def test_engine_raises_after_for_s_and_clears_after_clear_s_and_a_dip_resets_the_wait() -> None:
    e = AlertEngine(
        AlertSettings(
            rules={**DEFAULT_RULES, "throttle": dataclasses.replace(DEFAULT_RULES["throttle"], for_s=60, clear_s=30)}
        )
    )
    events = []
    for t in range(0, 50, 5):
        events += e.evaluate(healthy(T0 + t, gpu=gpu(0x40)))
    assert events == [] and [p.rule for p in e.pending_for("pegasus")] == ["throttle"]
    events += e.evaluate(healthy(T0 + 52, gpu=gpu(0x0)))  # one sample at full clock: the wait starts again
    for t in range(55, 115, 5):
        events += e.evaluate(healthy(T0 + t, gpu=gpu(0x40)))
    assert events == []
    (raised,) = e.evaluate(healthy(T0 + 115, gpu=gpu(0x40)))
    assert raised.kind == "raised" and raised.alert.rule == "throttle" and raised.alert.since == T0 + 55
    assert e.evaluate(healthy(T0 + 120, gpu=gpu(None))) == []  # not reported: keeps the alert
    assert e.evaluate(healthy(T0 + 125, gpu=gpu(0x1))) == []
    (cleared,) = e.evaluate(healthy(T0 + 155, gpu=gpu(0x1)))
    assert cleared.kind == "cleared" and cleared.alert.id == raised.alert.id and cleared.alert.cleared_at == T0 + 155


def test_engine_power_low_pinned_under_load() -> None:
    e = AlertEngine()
    assert [ev for t in range(0, 60, 10) for ev in e.evaluate(healthy(T0 + t, gpu=gpu(power=31.0)))] == []
    (raised,) = e.evaluate(healthy(T0 + 60, gpu=gpu(power=30.5)))
    assert raised.alert.rule == "power_low" and raised.alert.since == T0
    assert e.evaluate(healthy(T0 + 70, gpu=gpu(power=4.0, util=0.0))) == []  # load ended
    (cleared,) = e.evaluate(healthy(T0 + 100, gpu=gpu(power=4.0, util=0.0)))
    assert cleared.kind == "cleared"


def test_config_keys_and_errors() -> None:
    text = (
        HOST + "\n[alerts.power_low]\nmax_power_w = 35\nmin_util_pct = 90\nfor_s = 120\n"
        "\n[alerts.throttle]\nenabled = false\n"
    )
    alerts = parse_config(text, Path("/h.toml")).alerts
    p = alerts.rule("power_low")
    assert (p.max_power_w, p.min_util_pct, p.for_s) == (35.0, 90.0, 120.0) and not alerts.rule("throttle").enabled
    for tail, words in (
        ("[alerts.power_low]\nmin_util_pct = 120\n", "expected a percentage above 0, at most 100"),
        ("[alerts.power_low]\nmax_power_w = 0\n", "expected a positive number of watts"),
        ("[alerts.throttle]\nlimit_c = 80\n", "unknown key 'limit_c' in [alerts.throttle]"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config(HOST + "\n" + tail, Path("/h.toml"))
        assert caught.value.line == 10 and words in str(caught.value), str(caught.value)
