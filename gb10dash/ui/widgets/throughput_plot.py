"""The last 10 minutes of gen (left axis) and prompt (right axis) tok/s, with the gen baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.app import RenderResult
from textual.color import Color
from textual_plotext import PlotextPlot

from gb10dash.core.history import RatePoint

WINDOW_MIN = 10.0
_X_TICKS: dict[bool, tuple[list[float], list[str]]] = {
    True: ([-10, -8, -6, -4, -2, 0], ["-10m", "-8m", "-6m", "-4m", "-2m", "now"]),
    False: ([-10, -5, 0], ["-10m", "-5m", "now"]),
}


def segments(points: Sequence[RatePoint], attr: str, now: float) -> list[tuple[list[float], list[float]]]:
    """Runs of (minutes ago, value) without gaps; a missing value splits the line."""
    runs: list[tuple[list[float], list[float]]] = []
    xs: list[float] = []
    ys: list[float] = []
    for point in points:
        value = getattr(point, attr)
        minutes = (point.at - now) / 60.0
        if value is None or minutes < -WINDOW_MIN:
            if xs:
                runs.append((xs, ys))
            xs, ys = [], []
            continue
        xs.append(minutes)
        ys.append(value)
    if xs:
        runs.append((xs, ys))
    return runs


def tick_count(plot_height: int) -> int:
    """Intervals on the y axis for a plot this many rows high: one free row between tick labels.

    (plotext puts colliding labels on one row in an order that changes between runs.)
    """
    data_rows = plot_height - 3  # top frame, x axis, x labels
    return max(1, min(4, (data_rows - 1) // 2))


def nice_ticks(values: Sequence[float], count: int = 4) -> list[float]:
    """0 and round steps up to just above the largest value (`[0, 20, 40, 60]`)."""
    top = max([1.0, *values])
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * magnitude >= raw)
    return [step * i for i in range(count + 1) if step * (i - 1) < top]


def tick_label(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:g}"


class ThroughputPlot(PlotextPlot):
    """Plot colours come from the app theme ($primary gen, $accent prompt, $warning baseline)."""

    #: plotext takes ~20 ms a draw on these cores, the costliest thing on screen: a chart with points in its
    #: window is drawn again once per REDRAW_S (new points, and the x axis moved on; a braille dot of the
    #: 10-minute chart in a half-screen panel is 4-5 s wide, and the big figures above it say the now); an
    #: empty chart only when a point comes or the baseline changes
    REDRAW_S = 10.0
    _made = 0  # charts made so far: each draws at its own phase of REDRAW_S, so no frame carries two

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.phase_s = (ThroughputPlot._made * 3.3) % self.REDRAW_S
        ThroughputPlot._made += 1
        self._points: list[RatePoint] = []
        self._baseline: float | None = None
        self._now = 0.0
        self._y_values: dict[str, list[float]] = {"left": [], "right": []}

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())
        self._draw()

    def show(self, points: Sequence[RatePoint], baseline: float | None, now: float) -> None:
        key = (baseline, int((now + self.phase_s) // self.REDRAW_S) if points else None)
        if key == getattr(self, "_drawn", None):
            return
        self._drawn = key
        self._points, self._baseline, self._now = list(points), baseline, now
        self._draw()

    def _color(self, name: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(name) or self.app.theme_variables.get("foreground", "#888888")
        return Color.parse(value).rgb

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        gen = segments(self._points, "gen", self._now)
        prompt = segments(self._points, "prompt", self._now)
        gen_values = [v for _, ys in gen for v in ys] + ([self._baseline] if self._baseline else [])
        prompt_values = [v for _, ys in prompt for v in ys]
        for xs, ys in prompt:
            plt.plot(xs, ys, marker="braille", color=self._color("accent"), yside="right")
        if self._baseline:
            plt.hline(self._baseline, color=self._color("warning"))
        for xs, ys in gen:
            plt.plot(xs, ys, marker="braille", color=self._color("primary"))
        plt.xlim(-WINDOW_MIN, 0)
        self._y_values = {"left": gen_values, "right": prompt_values}
        self.refresh()

    def render(self) -> RenderResult:
        """Ticks fitted to the current size, then plotext draws."""
        plt = self.plt
        plt.xticks(*_X_TICKS[self.size.width >= 50])
        for side, values in self._y_values.items():
            ticks = nice_ticks(values, tick_count(self.size.height))
            # textual-plotext's stub types yside as a float; plotext takes "left"/"right"
            plt.ylim(0, ticks[-1], yside=side)  # type: ignore[arg-type]
            plt.yticks(ticks, [tick_label(t) for t in ticks], yside=side)  # type: ignore[arg-type]
        return super().render()
