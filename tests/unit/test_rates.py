"""tok/s from /metrics deltas, /slots progress and print_timing lines (recorded bodies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.collectors.journal import parse_print_timing
from gb10dash.collectors.llama import Metrics, SlotInfo, parse_metrics, parse_slots
from gb10dash.core.rates import Rate, RateSource, gen_rate_from_slots, rate_from_timing, rates_from_metrics

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "llama-server"
T0 = 1788042587.0


def metrics(name: str) -> Metrics:
    return parse_metrics((FIX / name).read_text())


def m(**values: float) -> Metrics:
    return Metrics(values)


def slot(id_task: int | None, n_decoded: int | None, *, sid: int = 1, busy: bool = True) -> SlotInfo:
    return SlotInfo(sid, 1024, busy, 100, 100, n_decoded, id_task)


def test_metrics_recorded_before_after() -> None:
    gen, prompt = rates_from_metrics(metrics("metrics_idle_zero.body"), metrics("metrics_after.body"), T0, T0 + 5)
    assert gen is not None and prompt is not None
    assert gen.source == RateSource.METRICS and gen.at == T0 + 5
    assert gen.tokens_per_second == pytest.approx(172 / 0.020216)
    assert prompt.tokens_per_second == pytest.approx(68 / 0.065646)


def test_metrics_idle_is_zero() -> None:
    same = metrics("metrics_after.body")
    gen, prompt = rates_from_metrics(same, same, T0, T0 + 1)
    assert gen == Rate(0.0, RateSource.METRICS, T0 + 1) and prompt == Rate(0.0, RateSource.METRICS, T0 + 1)


def test_metrics_busy_but_unfinished_is_unknown() -> None:
    # recorded mid-request: requests_processing 1 and the generation counters have not moved yet
    busy = metrics("metrics_processing.body")
    gen, prompt = rates_from_metrics(busy, busy, T0, T0 + 1)
    assert gen is None and prompt is None


def test_metrics_reset_after_restart() -> None:
    gen, prompt = rates_from_metrics(metrics("metrics_processing.body"), metrics("metrics_idle_zero.body"), T0, T0 + 1)
    assert gen is None and prompt is None


def test_metrics_without_counters_or_out_of_order() -> None:
    none = metrics("metrics_no_counters.body")
    assert rates_from_metrics(none, none, T0, T0 + 1) == (None, None)
    a, b = metrics("metrics_idle_zero.body"), metrics("metrics_after.body")
    assert rates_from_metrics(a, b, T0 + 1, T0) == (None, None)


def test_metrics_tokens_without_time_is_unknown() -> None:
    prev = m(tokens_predicted_total=10, tokens_predicted_seconds_total=1.0)
    cur = m(tokens_predicted_total=20, tokens_predicted_seconds_total=1.0)
    gen, prompt = rates_from_metrics(prev, cur, T0, T0 + 1)
    assert gen is None and prompt is None


def test_metrics_nan_counter_is_unknown() -> None:
    prev = m(tokens_predicted_total=float("nan"), tokens_predicted_seconds_total=1.0)
    cur = m(tokens_predicted_total=20, tokens_predicted_seconds_total=2.0)
    assert rates_from_metrics(prev, cur, T0, T0 + 1)[0] is None


def test_slots_recorded_progress() -> None:
    # two recorded busy bodies that happen to share slot 1 / task 1539 stand in for two polls: 87 → 877
    prev = parse_slots((FIX / "slots_processing_big.body").read_text())
    cur = parse_slots((FIX / "slots_processing_tiny.body").read_text())
    rate = gen_rate_from_slots(prev, cur, T0, T0 + 2)
    assert rate == Rate((877 - 87) / 2, RateSource.SLOTS, T0 + 2)


def test_slots_sum_over_parallel_slots() -> None:
    prev = [slot(10, 100, sid=0), slot(11, 5, sid=1)]
    cur = [slot(10, 150, sid=0), slot(11, 35, sid=1)]
    assert gen_rate_from_slots(prev, cur, T0, T0 + 0.5) == Rate(160.0, RateSource.SLOTS, T0 + 0.5)


def test_slots_idle_is_zero() -> None:
    idle = parse_slots((FIX / "slots_idle.body").read_text())
    assert gen_rate_from_slots(idle, idle, T0, T0 + 1) == Rate(0.0, RateSource.SLOTS, T0 + 1)


def test_slots_new_task_or_bad_interval_is_unknown() -> None:
    assert gen_rate_from_slots([slot(10, 500)], [slot(11, 20)], T0, T0 + 1) is None
    assert gen_rate_from_slots([slot(10, 5)], [slot(10, 50)], T0, T0) is None
    assert gen_rate_from_slots([slot(10, 50)], [slot(10, 5)], T0, T0 + 1) is None  # went backwards
    assert gen_rate_from_slots([slot(10, 50)], [slot(10, 0, busy=False)], T0, T0 + 1) is None  # just finished


def test_slots_prompt_phase_is_zero_generation() -> None:
    assert gen_rate_from_slots([slot(10, 0)], [slot(10, 0)], T0, T0 + 1) == Rate(0.0, RateSource.SLOTS, T0 + 1)


def test_rate_from_recorded_timing() -> None:
    t = parse_print_timing(
        "0.05.355.279 I slot print_timing: id  1 | task 1539 |        eval time =    2516.14 ms /   900 tokens "
        "(    2.80 ms per token,   357.29 tokens per second)"
    )
    assert t is not None
    assert rate_from_timing(t, T0) == Rate(357.29, RateSource.JOURNAL, T0)


def test_a_timing_under_a_millisecond_gives_no_rate() -> None:
    """A one-token generation prints a time of hundredths of a millisecond and a rate of tens of
    thousands of tok/s: no figure (the panel keeps the last real one)."""
    t = parse_print_timing(
        "0.05.355.279 I slot print_timing: id  1 | task 1540 |        eval time =       0.02 ms /     1 tokens "
        "(    0.02 ms per token, 50000.00 tokens per second)"
    )
    assert t is not None and t.tokens_per_second == 50000.0
    assert rate_from_timing(t, T0) is None


def test_metrics_a_lone_token_without_measurable_time_is_unknown() -> None:
    """Seen on the demo's screen: a request whose model sampled its end first generated one token, and
    the server counted ~1 µs of generation for it (the first token comes from the prompt pass): the
    window read 1,000,000 tok/s. A window under 1 ms of counted time gives no figure."""
    prev = m(
        tokens_predicted_total=100, tokens_predicted_seconds_total=2.0, prompt_tokens_total=50, prompt_seconds_total=0.5
    )
    cur = m(
        tokens_predicted_total=101,
        tokens_predicted_seconds_total=2.000001,
        prompt_tokens_total=90,
        prompt_seconds_total=0.52,
    )
    gen, prompt = rates_from_metrics(prev, cur, T0, T0 + 1)
    assert gen is None
    assert prompt is not None and prompt.tokens_per_second == pytest.approx(40 / 0.02)
    two = m(tokens_predicted_total=102, tokens_predicted_seconds_total=2.0009)
    assert rates_from_metrics(prev, two, T0, T0 + 1)[0] is None
    enough = m(tokens_predicted_total=110, tokens_predicted_seconds_total=2.002)
    rate = rates_from_metrics(prev, enough, T0, T0 + 1)[0]
    assert rate is not None and rate.tokens_per_second == pytest.approx(10 / 0.002)
