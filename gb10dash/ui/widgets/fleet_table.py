"""The fleet summary (`s`): one row per host, for when the panels no longer fit (many hosts).

State, unit, model, gen and prompt tok/s, memory used, GPU utilisation/temperature/power, the share
and the firing alerts — the figures the panels show, one line each. Fed by the app; no I/O. Cells
are rewritten only when their text changes: the words (state, unit, model, share, alerts) at once, the
rolling figures (tok/s, memory, GPU) at most every FIGURES_EVERY_S — writing any cell makes Textual's
DataTable render every visible cell again (~35 % of the dashboard's CPU at 16 hosts, py-spy, issue 22).
And a cell whose text, place, width and style are those of an earlier draw is not rendered again
(`FleetTable._render_cell`): after a write, the cells that did not change are taken from before it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from gb10dash.alerts import Alert
from gb10dash.core.state import HostState
from gb10dash.format import DASH, number, percent

COLUMNS = ("host", "state", "unit", "model", "gen tok/s", "prompt tok/s", "mem", "gpu", "share", "alerts")
#: the columns whose figures move every second: written together, at most this often
FIGURES = frozenset({"gen tok/s", "prompt tok/s", "mem", "gpu"})
FIGURES_EVERY_S = 5.0


def _rate(rate) -> str:
    return number(rate.tokens_per_second) if rate is not None and rate.tokens_per_second is not None else DASH


def fleet_row(state: HostState, alerts: Sequence[Alert] = ()) -> tuple[str, ...]:
    """The summary row of one host (pure)."""
    if not state.connected:
        word = "unreachable"
    elif alerts:
        word = "ALERT"
    else:
        word = "healthy" if state.healthy else "degraded"
    unit = f"{state.unit.active_state}/{state.unit.sub_state}" if state.unit else DASH
    mem = state.meminfo
    gpu = state.gpu
    gpu_text = (
        DASH
        if gpu is None
        else " ".join(
            part
            for part in (
                f"{gpu.utilization_pct:.0f}%" if gpu.utilization_pct is not None else "",
                f"{gpu.temperature_c:.0f}°C" if gpu.temperature_c is not None else "",
                f"{gpu.power_w:.0f} W" if gpu.power_w is not None else "",
            )
            if part
        )
        or DASH
    )
    share = state.mount.state.value if state.mount else DASH
    return (
        state.name,
        word,
        unit,
        state.model_id or DASH,
        _rate(state.throughput.gen),
        _rate(state.throughput.prompt),
        percent(mem.used_fraction) if mem else DASH,
        gpu_text,
        share,
        ", ".join(a.rule for a in alerts) or DASH,
    )


#: rendered cells kept: every cell of a 64-host table, in its plain and cursor looks
CELLS_KEPT = 2 * 64 * (len(COLUMNS) + 1)


class FleetTable(DataTable[str]):
    _figures_at = -FIGURES_EVERY_S  # when the rolling figures were last written

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._cells: LRUCache[tuple[Hashable, ...], list[list[Segment]]] = LRUCache(CELLS_KEPT)
        self.cells_rendered = 0  # cells rendered (not taken from an earlier draw) so far: for tests

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """DataTable's cell, rendered again only when what it shows changed. DataTable keys its own cell
        cache on a count of every write to the table, so one new figure renders every visible cell."""
        text = self._cell_text(row_index, column_index)
        key = (
            row_index,
            column_index,
            text,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
            self.show_cursor,
            self.cursor_type,
        )
        lines = self._cells.get(key)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._cells[key] = lines
            self.cells_rendered += 1
        return lines

    def _cell_text(self, row_index: int, column_index: int) -> str:
        if column_index < 0:
            return ""  # no row labels
        if row_index < 0:
            return str(self.ordered_columns[column_index].label)
        return str(self.get_cell_at(Coordinate(row_index, column_index)))

    def notify_style_update(self) -> None:
        self._cells.clear()  # new colours (a theme): every cell again
        super().notify_style_update()

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, states: Sequence[HostState], alerts: Mapping[str, Sequence[Alert]], now: float) -> None:
        """`now`: seconds on any clock that moves forward (the figures' pace is measured on it)."""
        figures_due = now - self._figures_at >= FIGURES_EVERY_S or now < self._figures_at
        for state in states:
            row = fleet_row(state, alerts.get(state.name, ()))
            if state.name not in self.rows:
                self.add_row(*row, key=state.name)
                continue
            for column, text in zip(COLUMNS, row):
                if (figures_due or column not in FIGURES) and self.get_cell(state.name, column) != text:
                    self.update_cell(state.name, column, text)
        if figures_due:
            self._figures_at = now

    @property
    def selected_host(self) -> str | None:
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
