"""Each alert rule on its own: pure functions of (HostState, RuleSettings, now, Recent)."""

from __future__ import annotations

import dataclasses

from alert_states import GIB, T0, healthy, unit, unreachable

from gb10dash.alerts import rules
from gb10dash.alerts.rules import UNKNOWN, Condition, Recent, observe
from gb10dash.alerts.settings import DEFAULT_RULES, AlertSettings
from gb10dash.collectors.gpu import GpuSample
from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.mounts import MountState, MountStatus
from gb10dash.core.rates import Rate, RateSource
from gb10dash.core.state import Throughput


def settings_with(name: str, **changes: object) -> AlertSettings:
    return AlertSettings(rules={**DEFAULT_RULES, name: dataclasses.replace(DEFAULT_RULES[name], **changes)})


def check(name: str, state, now: float = T0, recent: Recent | None = None, **changes: object):
    settings = settings_with(name, **changes)
    return rules.RULES[name](state, settings.rule(name), now, observe(recent or Recent(), state, now, settings))


def test_a_healthy_host_meets_no_rule() -> None:
    for name in rules.RULES:
        assert check(name, healthy()) is None, name


def test_unreachable_carries_the_time_it_began_and_is_unknown_before_the_first_try() -> None:
    found = check("unreachable", unreachable(T0, since=T0 - 40))
    assert isinstance(found, Condition) and found.since == T0 - 40 and "connection refused" in found.message
    not_tried = dataclasses.replace(healthy(), connected=False)
    assert check("unreachable", not_tried) is UNKNOWN
    # the other rules know nothing about an unreachable host: they neither raise nor clear
    for name in ("unit", "health", "share", "throughput", "gpu_temp", "memory", "memory_pressure"):
        assert check(name, unreachable(T0, since=T0 - 40)) is UNKNOWN, name


def test_unit_failed_stopped_or_restarting() -> None:
    failed = check("unit", healthy(unit=unit(active_state="failed", sub_state="failed", result="exit-code")))
    assert failed.message == "unit failed (result exit-code, failed)" and failed.severity == "critical"
    stopped = check("unit", healthy(unit=unit(active_state="inactive", sub_state="dead", main_pid=None)))
    assert stopped.message == "unit inactive/dead"
    between = check("unit", healthy(unit=unit(active_state="activating", sub_state="auto-restart")))
    assert between.message == "unit activating/auto-restart"
    assert check("unit", healthy(unit=None)) is UNKNOWN


def test_unit_restarting_repeatedly_counts_restarts_seen_in_the_window() -> None:
    settings = settings_with("unit", restarts=3, restart_window_s=600)
    s = settings.rule("unit")
    recent = Recent()
    for i, n in enumerate([0, 1, 2]):  # running again after each crash: not yet "repeatedly"
        now = T0 + 60 * i
        recent = observe(recent, healthy(unit=unit(n_restarts=n)), now, settings)
        assert rules.unit(healthy(unit=unit(n_restarts=n)), s, now, recent) is None
    recent = observe(recent, healthy(unit=unit(n_restarts=3)), T0 + 180, settings)
    found = rules.unit(healthy(unit=unit(n_restarts=3)), s, T0 + 180, recent)
    assert found.message == "unit restarted 3 times in 10m00s"
    # ten minutes after the first restart it was seen, that one leaves the window
    assert rules.unit(healthy(unit=unit(n_restarts=3)), s, T0 + 60 + 601, recent) is None
    # a manual restart resets NRestarts: nothing new is counted
    reset = observe(recent, healthy(unit=unit(n_restarts=0)), T0 + 200, settings)
    assert reset.restart_times == recent.restart_times and reset.n_restarts == 0


def test_unit_restarts_seen_at_first_sight_count_only_when_the_process_started_in_the_window() -> None:
    assert check("unit", healthy(unit=unit(n_restarts=5, started_at=T0 - 30))).message.startswith(
        "unit restarted 3 times"
    )
    assert check("unit", healthy(unit=unit(n_restarts=5, started_at=T0 - 3600))) is None


def test_health_not_ok_and_loading_excepted_until_the_load_timeout() -> None:
    down = check("health", healthy(health=Health(HealthState.ERROR, 500, "boom")))
    assert down.message == "health error: boom" and down.since is None
    loading = healthy(health=Health(HealthState.LOADING, 503, "Loading model"), unit=unit(started_at=T0 - 100))
    assert check("health", loading, load_timeout_s=300) is None
    not_listening = healthy(health=Health(HealthState.DOWN, None, "connection refused"), unit=unit(started_at=T0 - 2))
    assert check("health", not_listening) is None  # just started: the port is not open yet
    assert check("health", not_listening, now=T0 + 400).message == "health down: connection refused"
    late = check("health", loading, now=T0 + 250, load_timeout_s=300)
    assert late.message == "still loading for 5m50s (load timeout 5m00s)" and late.since == T0 - 100 + 300
    # a stopped unit is the unit rule's business, not a second alert
    stopped = healthy(
        health=Health(HealthState.DOWN, None, "connection refused"),
        unit=unit(active_state="inactive", sub_state="dead"),
    )
    assert check("health", stopped) is None
    assert check("health", healthy(health=None)) is UNKNOWN


def test_share_not_mounted_or_hung() -> None:
    hung = MountStatus(
        path="/mnt/models", state=MountState.HUNG, stat_seconds=3.0, error="stat did not answer within 3 s"
    )
    assert check("share", healthy(mount=hung)).message == (
        "model share /mnt/models hung (stat did not answer within 3 s)"
    )
    gone = MountStatus(path="/mnt/models", state=MountState.NOT_MOUNTED)
    assert check("share", healthy(mount=gone)).message == "model share /mnt/models not mounted"
    assert check("share", healthy(mount=None)) is UNKNOWN


def test_throughput_under_load_below_the_baseline_by_more_than_the_fraction() -> None:
    def gen(tps: float, age: float = 5.0):
        return healthy(throughput=Throughput(gen=Rate(tps, RateSource.METRICS, T0 - age)))

    assert check("throughput", gen(36.0), fraction=0.3) is None  # 50 × 0.7 = 35: not below
    slow = check("throughput", gen(30.0), fraction=0.3)
    assert slow.severity == "warning"
    assert slow.message == (
        "gen 30.0 tok/s (metrics) under 35.0: more than 30% below the baseline 50 (median of 1 in 2m00s)"
    )
    assert check("throughput", gen(30.0, age=600), max_age_s=120) is None  # not under load lately
    assert check("throughput", gen(0.0)) is None  # idle
    # stopped: the journal's last figure (all that is left when the API is down) is the unit rule's
    # business, as health is — seen in the lab: a slow bench a minute before a stop gave a second alert
    stopped = dataclasses.replace(gen(30.0), unit=unit(active_state="inactive", sub_state="dead"))
    assert check("throughput", stopped, fraction=0.3) is None
    no_baseline = dataclasses.replace(gen(1.0), config=dataclasses.replace(gen(1.0).config, baseline_gen_tps=None))
    assert check("throughput", no_baseline) is None


def test_throughput_judges_the_median_of_the_recent_figures_not_one_noisy_sample() -> None:
    settings = settings_with("throughput", fraction=0.3, max_age_s=10)
    s = settings.rule("throughput")
    recent = Recent()
    figures = [60, 12, 55, 58, 9, 61, 57]  # two slow outliers among normal figures
    for i, tps in enumerate(figures):
        state = healthy(T0 + i, throughput=Throughput(gen=Rate(float(tps), RateSource.METRICS, T0 + i)))
        recent = observe(recent, state, T0 + i, settings)
        recent = observe(recent, state, T0 + i + 0.5, settings)  # the same figure seen twice counts once
        assert rules.throughput(state, s, T0 + i, recent) is None, (i, recent)
    assert len(recent.gen_rates) == len(figures)
    for i, tps in enumerate([10, 11, 9, 12, 10, 9, 11, 10], start=len(figures)):  # really slow now
        state = healthy(T0 + i, throughput=Throughput(gen=Rate(float(tps), RateSource.METRICS, T0 + i)))
        recent = observe(recent, state, T0 + i, settings)
    found = rules.throughput(state, s, T0 + i, recent)
    assert found.message.startswith("gen 10.0 tok/s (metrics) under 35.0") and "median of 11 in 10s" in found.message
    # eleven seconds later with no new figure: not under load lately
    assert rules.throughput(state, s, T0 + i + 11, observe(recent, state, T0 + i + 11, settings)) is None


def test_gpu_temperature_and_memory_reserve() -> None:
    hot = healthy(gpu=GpuSample(temperature_c=91.0))
    assert check("gpu_temp", hot, limit_c=85).message == "GPU 91 °C over the limit 85 °C"
    assert check("gpu_temp", hot, limit_c=95) is None
    assert check("gpu_temp", healthy(gpu=GpuSample(temperature_c=None))) is UNKNOWN
    state = healthy()
    low = dataclasses.replace(state, meminfo=dataclasses.replace(state.meminfo, available_kib=3 * GIB))
    assert check("memory", low, reserve_gib=4).message == "available memory 3.0 GiB under the reserve 4 GiB"
    assert check("memory", low, reserve_gib=2) is None
