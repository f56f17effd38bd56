"""Text output of `gb10dash bench`: a progress line per repetition and a table per host (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gb10dash.bench.stats import REGRESSION_THRESHOLD, Comparison, Summary
from gb10dash.format import DASH

if TYPE_CHECKING:  # the runner (and httpx with it) only where a bench runs
    from gb10dash.bench.runner import BenchResult, Progress


def tps(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"


def progress_line(progress: Progress) -> str:
    if progress.phase != "rep" or progress.sample is None:
        return f"{progress.host}: {progress.message}"
    s = progress.sample
    ttft = f"{s.ttft_s:.3f} s" if s.ttft_s is not None else DASH
    return (
        f"{progress.host}: rep {progress.index}/{progress.total}  gen {tps(s.predicted_per_second)} tok/s  "
        f"prompt {tps(s.prompt_per_second)} tok/s  TTFT {ttft}  "
        f"({s.prompt_n} prompt + {s.predicted_n} generated tokens)"
    )


def _mean_stdev(summary: Summary | None, unit: str = "") -> str:
    if summary is None:
        return DASH
    if unit == "s":
        mean, stdev = f"{summary.mean:.3f}", f"{summary.stdev:.3f} s"
    else:
        mean, stdev = tps(summary.mean), tps(summary.stdev)
    if summary.n < 2:  # no spread from one value
        return mean + (" s" if unit == "s" else "")
    return f"{mean} ± {stdev}"


def _row(label: str, comparison: Comparison) -> str:
    ratio = DASH if comparison.ratio is None else f"{comparison.ratio:.2f}×"
    flag = "REGRESSION" if comparison.regression else ("ok" if comparison.ratio is not None else "no baseline")
    return f"  {label:<13} {_mean_stdev(comparison.summary):>22}  {tps(comparison.baseline):>10}  {ratio:>7}  {flag}"


def verdict(result: BenchResult) -> str:
    if result.partial:
        return (
            f"INCOMPLETE: {len(result.samples)} of {result.workload.repeat} repetitions measured "
            "(not written to the history)"
        )
    below = []
    for label, comparison in (("gen", result.gen), ("prompt", result.prompt)):
        if comparison.regression and comparison.ratio is not None:
            below.append(f"{label} tok/s {(1 - comparison.ratio) * 100:.0f} % below baseline")
    if below:
        return f"REGRESSION: {', '.join(below)} (threshold {REGRESSION_THRESHOLD * 100:.0f} %)"
    if result.gen.ratio is None and result.prompt.ratio is None:
        return "ok (no baseline in the config to compare with)"
    return "ok"


def table(result: BenchResult) -> list[str]:
    w = result.workload
    lines = [
        f"{result.host} · {result.model} · build {result.build or DASH}",
        f"  workload: prompt {w.prompt_tokens} tokens ({result.prompt_tokens} counted by the server), "
        f"{w.gen_tokens} generated, {len(result.samples)}/{w.repeat} repetitions" + (" (quick)" if w.quick else ""),
        f"  {'':<13} {'mean ± stdev':>22}  {'baseline':>10}  {'ratio':>7}",
        _row("gen tok/s", result.gen),
        _row("prompt tok/s", result.prompt),
        f"  {'TTFT':<13} {_mean_stdev(result.ttft, 's'):>22}",
        f"  result: {verdict(result)}",
    ]
    lines.extend(f"  warning: {warning}" for warning in result.warnings)
    return lines
