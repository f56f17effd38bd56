"""The fleet summary renders a cell again only when what it shows changed (issue 22, 16 hosts: DataTable
renders every visible cell after any write), and looks exactly as Textual's DataTable draws it."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from gb10dash.ui.widgets.fleet_table import COLUMNS, FleetTable

ROWS = [
    (f"host{i}", "healthy", "active/running", "model.gguf", f"{i}.5", "1,200", "41%", "12% 50°C 90 W", "ok", "–")
    for i in range(6)
]


class BothTables(App[None]):
    CSS = "DataTable { height: 10; }"
    AUTO_FOCUS = None  # neither table focused: both drawn alike

    def compose(self) -> ComposeResult:
        yield FleetTable(id="ours")
        yield DataTable(id="stock")

    def on_mount(self) -> None:
        stock = self.query_one("#stock", DataTable)
        stock.cursor_type = "row"
        stock.zebra_stripes = True
        for name in COLUMNS:
            stock.add_column(name, key=name)
        for table in (self.query_one(FleetTable), stock):
            for row in ROWS:
                table.add_row(*row, key=row[0])


def _lines(table: DataTable[str]) -> list[list[tuple[str, object]]]:
    return [[(s.text, s.style) for s in table.render_line(y)] for y in range(table.size.height)]


async def test_the_summary_draws_as_a_datatable_and_renders_only_the_changed_cells() -> None:
    app = BothTables()
    async with app.run_test(size=(150, 24)) as pilot:
        ours, stock = app.query_one(FleetTable), app.query_one("#stock", DataTable)
        await pilot.pause()
        assert _lines(ours) == _lines(stock)
        before = ours.cells_rendered

        for table in (ours, stock):
            table.update_cell("host2", "gen tok/s", "99.9")
        await pilot.pause()
        assert _lines(ours) == _lines(stock)
        assert ours.cells_rendered == before + 1  # DataTable alone renders every visible cell again

        for table in (ours, stock):
            table.move_cursor(row=3)
        await pilot.pause()
        assert _lines(ours) == _lines(stock)  # the cursor row in the cursor's style, the old one plain

        ours.focus()
        await pilot.pause()
        focused_ours = _lines(ours)
        stock.focus()
        await pilot.pause()
        assert _lines(stock) == focused_ours != _lines(ours)  # focus changes the look, alike in both
