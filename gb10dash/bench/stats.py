"""Pure statistics of a benchmark: mean ± stdev, ratio to the baseline, the regression flag."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

REGRESSION_THRESHOLD = 0.10  # a figure more than 10 % below its baseline is a regression


@dataclass(frozen=True, slots=True)
class Summary:
    mean: float
    stdev: float  # sample standard deviation; 0.0 for a single value
    n: int
    min: float
    max: float

    def as_dict(self) -> dict[str, float | int]:
        return {"mean": self.mean, "stdev": self.stdev, "n": self.n, "min": self.min, "max": self.max}


def summarize(values: Iterable[float]) -> Summary | None:
    """Mean, sample stdev, count, min, max of the finite values; None when there are none."""
    kept = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not kept:
        return None
    stdev = statistics.stdev(kept) if len(kept) > 1 else 0.0
    return Summary(mean=statistics.fmean(kept), stdev=stdev, n=len(kept), min=min(kept), max=max(kept))


def ratio(value: float | None, baseline: float | None) -> float | None:
    """value / baseline, or None when either is missing or the baseline is not positive."""
    if value is None or baseline is None or baseline <= 0 or not math.isfinite(value):
        return None
    return value / baseline


def is_regression(value_ratio: float | None, threshold: float = REGRESSION_THRESHOLD) -> bool:
    """True when the figure is below its baseline by more than `threshold` (0.10 = 10 %)."""
    return value_ratio is not None and value_ratio < 1.0 - threshold


@dataclass(frozen=True, slots=True)
class Comparison:
    """One measured figure against its baseline."""

    summary: Summary | None
    baseline: float | None
    ratio: float | None
    regression: bool


def compare(values: Iterable[float], baseline: float | None, threshold: float = REGRESSION_THRESHOLD) -> Comparison:
    summary = summarize(values)
    value_ratio = ratio(summary.mean if summary else None, baseline)
    return Comparison(summary, baseline, value_ratio, is_regression(value_ratio, threshold))
