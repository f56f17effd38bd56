"""Throughput: big current gen and prompt tok/s over a 10-minute chart."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical

from gb10dash.bench.history import HistoryEntry
from gb10dash.core.history import RatePoint
from gb10dash.core.state import HostState
from gb10dash.ui.widgets.bench_line import BenchLine
from gb10dash.ui.widgets.rate_figure import RateFigure
from gb10dash.ui.widgets.throughput_plot import ThroughputPlot


class ThroughputView(Vertical):
    def compose(self) -> ComposeResult:
        with Horizontal(classes="rate-figures"):
            yield RateFigure("gen tok/s", classes="gen")
            yield RateFigure("prompt tok/s", classes="prompt")
        yield ThroughputPlot()
        yield BenchLine("")

    def show(
        self, state: HostState, history: Sequence[RatePoint], now: float, bench: Sequence[HistoryEntry] = ()
    ) -> None:
        config = state.config
        spec = state.spec_decode.describe() if state.spec_decode is not None else None
        self.query_one(".gen", RateFigure).show(state.throughput.gen, now, config.baseline_gen_tps, spec)
        self.query_one(".prompt", RateFigure).show(state.throughput.prompt, now, config.baseline_prompt_tps)
        self.query_one(ThroughputPlot).show(history, config.baseline_gen_tps, now)
        self.query_one(BenchLine).show(bench, now)
