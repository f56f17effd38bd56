"""Quick benchmark of a host's llama-server against its baseline (`gb10dash bench`).

workload: the fixed prompt of N tokens and M generated tokens; runner: the requests and the
server's timings; stats: mean ± stdev, ratio, regression flag; history: the JSON-lines record;
report/cli: the command's output.
"""

from __future__ import annotations

from gb10dash.bench.history import HistoryEntry, history_path, read_history
from gb10dash.bench.stats import REGRESSION_THRESHOLD, Comparison, Summary, compare, is_regression, ratio, summarize
from gb10dash.bench.workload import DEFAULT, QUICK, Workload, make_workload

__all__ = [
    "DEFAULT",
    "QUICK",
    "REGRESSION_THRESHOLD",
    "Comparison",
    "HistoryEntry",
    "Summary",
    "Workload",
    "compare",
    "history_path",
    "is_regression",
    "make_workload",
    "ratio",
    "read_history",
    "summarize",
]
