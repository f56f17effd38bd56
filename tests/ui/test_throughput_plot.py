"""The throughput chart is drawn again only when what it shows can have moved (issue 22: plotext takes
~20 ms a draw, the costliest thing on screen): an empty chart never on the clock, a chart with points
once per REDRAW_S, and charts made one after the other at different phases of it."""

from __future__ import annotations

from textual.app import App, ComposeResult

from gb10dash.core.history import RatePoint
from gb10dash.ui.widgets.throughput_plot import ThroughputPlot


class CountingPlot(ThroughputPlot):
    draws = 0

    def _draw(self) -> None:
        self.draws += 1
        super()._draw()


class TwoCharts(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingPlot(id="a")
        yield CountingPlot(id="b")


async def test_the_chart_is_drawn_when_what_it_shows_can_have_moved() -> None:
    app = TwoCharts()
    async with app.run_test(size=(80, 30)):
        chart = app.query_one("#a", CountingPlot)
        step, phase = chart.REDRAW_S, chart.phase_s
        start = 1_000 * step - phase  # a moment where this chart's REDRAW_S period begins
        mounted = chart.draws
        for t in range(0, 60, 1):  # a minute with nothing to show: one draw (the first show), none after
            chart.show([], None, start + t)
        assert chart.draws == mounted + 1

        drawn = chart.draws
        points = [RatePoint(start + 60, 50.0, 400.0)]
        chart.show(points, None, start + 60)  # the first point after an empty chart: drawn at once
        assert chart.draws == drawn + 1
        for t in range(61, 61 + int(step) * 3):  # a point a second for three periods: once a period
            points.append(RatePoint(start + t, 50.0 + t, 400.0))
            chart.show(points, None, start + t)
        assert chart.draws == drawn + 1 + 3

        drawn = chart.draws
        chart.show(points, 58.8, start + 60 + 3 * step + 0.5)  # a new baseline: at once
        assert chart.draws == drawn + 1


async def test_two_charts_draw_at_different_phases() -> None:
    app = TwoCharts()
    async with app.run_test(size=(80, 30)):
        a, b = app.query_one("#a", CountingPlot), app.query_one("#b", CountingPlot)
        assert a.phase_s != b.phase_s
        assert 0 <= a.phase_s < a.REDRAW_S and 0 <= b.phase_s < b.REDRAW_S
