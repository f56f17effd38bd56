"""Pure parts of the benchmark: statistics, regression flag, timings → sample, history lines, table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gb10dash.bench import history, report
from gb10dash.bench.runner import BenchError, BenchResult, Sample, _sse_payload, sample_from_final
from gb10dash.bench.stats import compare, is_regression, ratio, summarize
from gb10dash.bench.workload import DEFAULT, QUICK, Workload, base_text, make_workload

# the `timings` of shared/reference/llama-server/recorded/bench_big/run1.json (a real answer)
RECORDED_TIMINGS = {
    "cache_n": 0,
    "prompt_n": 24,
    "prompt_ms": 13.315,
    "prompt_per_token_ms": 0.5547916666666667,
    "prompt_per_second": 1802.4784078107398,
    "predicted_n": 512,
    "predicted_ms": 876.737,
    "predicted_per_token_ms": 1.7157279843444226,
    "predicted_per_second": 582.8429734344508,
}


def test_summary_mean_and_sample_stdev() -> None:
    s = summarize([10.0, 12.0, 14.0])
    assert s is not None
    assert (s.mean, s.stdev, s.n, s.min, s.max) == (12.0, 2.0, 3, 10.0, 14.0)


def test_summary_of_one_value_has_no_spread_and_of_none_is_none() -> None:
    s = summarize([58.8])
    assert s is not None and (s.mean, s.stdev, s.n) == (58.8, 0.0, 1)
    assert summarize([]) is None
    assert summarize([float("nan"), float("inf")]) is None
    nan_kept = summarize([1.0, float("nan"), 3.0])
    assert nan_kept is not None and nan_kept.mean == 2.0 and nan_kept.n == 2


def test_ratio_to_baseline() -> None:
    assert ratio(58.8, 58.8) == 1.0
    assert ratio(29.4, 58.8) == pytest.approx(0.5)
    assert ratio(None, 58.8) is None and ratio(30.0, None) is None and ratio(30.0, 0.0) is None


@pytest.mark.parametrize(
    ("value", "baseline", "flag"),
    [
        (58.8, 58.8, False),  # at the baseline
        (70.0, 58.8, False),  # faster
        (53.0, 58.8, False),  # 9.9 % below: within the tolerance
        (52.92, 58.8, False),  # exactly 10 % below: not more than 10 %
        (52.8, 58.8, True),  # 10.2 % below
        (1500.0, 1809.0, True),  # pegasus prompt 17 % below
        (25.0, None, False),  # no baseline: never a regression
    ],
)
def test_regression_when_more_than_ten_percent_below(value: float, baseline: float | None, flag: bool) -> None:
    assert is_regression(ratio(value, baseline)) is flag
    assert compare([value], baseline).regression is flag


def test_compare_uses_the_mean() -> None:
    c = compare([50.0, 54.0, 58.0], 58.8)
    assert c.summary is not None and c.summary.mean == 54.0
    assert c.ratio == pytest.approx(54.0 / 58.8) and c.regression is False  # 8.2 % below
    assert compare([], 58.8).ratio is None and compare([], 58.8).regression is False


def test_sample_from_a_recorded_answer() -> None:
    s = sample_from_final({"timings": RECORDED_TIMINGS}, ttft_s=0.02, total_s=0.9)
    assert (s.prompt_n, s.predicted_n, s.cache_n) == (24, 512, 0)
    assert s.predicted_per_second == pytest.approx(582.84, abs=0.01)
    assert s.prompt_per_second == pytest.approx(1802.48, abs=0.01)
    assert s.ignore_eos is None  # the chat answer does not echo generation_settings
    final = {
        "stop": True,
        "stop_type": "limit",
        "generation_settings": {"ignore_eos": True},
        "timings": RECORDED_TIMINGS,
    }
    assert sample_from_final(final, None, 1.0).ignore_eos is True
    with pytest.raises(BenchError, match="no 'timings'"):
        sample_from_final({"stop": True}, None, 1.0)
    with pytest.raises(BenchError, match="incomplete timings"):
        sample_from_final({"timings": {"prompt_n": 3}}, None, 1.0)


def test_sse_lines() -> None:
    assert _sse_payload("") is None and _sse_payload(": comment") is None and _sse_payload("data: [DONE]") is None
    assert _sse_payload('data: {"content":"a","stop":false}') == {"content": "a", "stop": False}
    with pytest.raises(BenchError, match="malformed"):
        _sse_payload("data: {not json")
    with pytest.raises(BenchError, match="context"):
        _sse_payload('data: {"error":{"code":400,"message":"the request exceeds the available context size"}}')
    with pytest.raises(BenchError, match="stream error"):
        _sse_payload('error: {"code":500,"message":"boom"}')


def test_workloads_and_bounds() -> None:
    assert (DEFAULT.prompt_tokens, DEFAULT.gen_tokens, DEFAULT.repeat) == (2048, 256, 3)
    assert (QUICK.prompt_tokens, QUICK.gen_tokens, QUICK.repeat, QUICK.quick) == (256, 32, 3, True)
    assert make_workload(quick=True, repeat=2) == Workload(256, 32, 2, quick=True)
    assert make_workload(prompt_tokens=512, gen_tokens=64).repeat == 3
    with pytest.raises(ValueError, match="repetitions must be between 1 and 50, got 0"):
        make_workload(repeat=0)
    for bad in ({"repeat": 51}, {"repeat": 0}, {"gen_tokens": 0}, {"prompt_tokens": 3}):
        with pytest.raises(ValueError):
            Workload(**{"prompt_tokens": 256, "gen_tokens": 32, "repeat": 3, **bad})


def test_the_fixed_text_is_deterministic_ascii() -> None:
    text = base_text(10_000)
    assert len(text) >= 10_000 and text == base_text(10_000) and text.isascii()
    assert text.startswith("Part 1. The keeper") and "Part 7. The keeper" in text  # numbered, repeated


def _result(gen: list[float], prompt: list[float], *, repeat: int | None = None) -> BenchResult:
    result = BenchResult(
        host="pegasus",
        base_url="http://127.0.0.1:8000",
        model="gpt-oss-120b-mxfp4-00001-of-00003.gguf",
        model_id="/mnt/models/gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4-00001-of-00003.gguf",
        build="b7999-abcdef0",
        workload=Workload(2048, 256, repeat or len(gen)),
        prompt_tokens=2048,
        baseline_gen_tps=58.8,
        baseline_prompt_tps=1809.0,
        started_at=1795600000.0,
        finished_at=1795600030.0,
    )
    for g, p in zip(gen, prompt):
        result.samples.append(
            Sample(
                prompt_n=2048,
                prompt_ms=2048 / p * 1000,
                prompt_per_second=p,
                predicted_n=256,
                predicted_ms=256 / g * 1000,
                predicted_per_second=g,
                cache_n=0,
                ttft_s=1.2,
                total_s=5.0,
                stop_type="limit",
                ignore_eos=True,
            )
        )
    return result


def test_history_round_trip_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "bench.jsonl"
    ok = _result([58.0, 59.0, 60.0], [1800.0, 1810.0, 1820.0])
    doc = history.append(ok, path)
    assert doc["regression"] == {"gen": False, "prompt": False, "any": False}
    assert path.stat().st_mode & 0o777 == 0o600  # private, whatever the umask
    slow = _result([40.0, 41.0], [1800.0, 1800.0])
    slow.started_at += 60
    history.append(slow, path)
    other = _result([30.0], [2236.0])
    other.host, other.model, other.started_at = "stella", "Qwen_Qwen3-8B-Q8_0.gguf", other.started_at + 120
    history.append(other, path)
    with open(path, "a") as fh:
        fh.write("{torn line\n" + json.dumps({"schema": "other/9", "host": "pegasus"}) + "\n")
    runs = history.read_history("pegasus", "/elsewhere/gpt-oss-120b-mxfp4-00001-of-00003.gguf", path=path)
    assert [r.gen_tps for r in runs] == [59.0, 40.5]
    assert runs[0].build == "b7999-abcdef0" and (runs[0].prompt_tokens, runs[0].gen_tokens) == (2048, 256)
    assert runs[1].regression is True and runs[0].regression is False
    assert math.isclose(runs[0].doc["ratio"]["gen"], 59.0 / 58.8)
    assert [r.host for r in history.read_history(path=path)] == ["pegasus", "pegasus", "stella"]
    assert history.read_history("stella", "nope.gguf", path=path) == []
    assert history.read_history("pegasus", path=tmp_path / "missing.jsonl") == []


def test_a_partial_run_is_not_written(tmp_path: Path) -> None:
    partial = _result([58.0], [1800.0], repeat=3)
    assert partial.partial
    with pytest.raises(ValueError, match="partial"):
        history.append(partial, tmp_path / "bench.jsonl")
    assert not (tmp_path / "bench.jsonl").exists()
    assert "INCOMPLETE: 1 of 3" in "\n".join(report.table(partial))


def test_table_shows_mean_stdev_baseline_ratio_and_flag() -> None:
    text = "\n".join(report.table(_result([50.0, 52.0, 54.0], [1800.0, 1810.0, 1820.0])))
    assert "pegasus · gpt-oss-120b-mxfp4-00001-of-00003.gguf · build b7999-abcdef0" in text
    assert "52.0 ± 2.0" in text and "58.8" in text and "0.88×  REGRESSION" in text
    assert "1,810.0 ± 10.0" in text and "1,809.0" in text and "1.00×  ok" in text
    assert "TTFT" in text and "1.200 ± 0.000 s" in text
    assert "result: REGRESSION: gen tok/s 12 % below baseline" in text


def test_rebuild_before_after_table_and_the_revert_offer() -> None:
    from gb10dash.actions.regression import BeforeAfter

    before, same = _result([58.0, 60.0], [1800.0, 1820.0]), _result([57.0, 59.5], [1790.0, 1800.0])
    slower = _result([45.0, 46.0], [1700.0, 1710.0])
    slower.build = "b8100-1234567"
    fine = BeforeAfter(before, same, commits=("abc123", "def456 sync upstream"))
    assert not fine.dropped and -0.02 < (fine.change() or 0) < 0
    lines = fine.table()
    assert lines[1].split()[2:4] == ["59.0", "58.2"] and lines[-1] == "  no regression"
    assert "build before: b7999-abcdef0 (abc123)" in lines[3] and "(def456 sync upstream)" in lines[4]
    dropped = BeforeAfter(before, slower)
    assert dropped.dropped and round((dropped.change() or 0) * 100) == -23
    assert dropped.table()[-1].startswith("  REGRESSION: gen tok/s 23 % lower than before (threshold 10 %)")
    assert (
        not BeforeAfter(before, None).dropped
        and BeforeAfter(None, slower).table()[-1] == "  no comparison: a run is missing"
    )
