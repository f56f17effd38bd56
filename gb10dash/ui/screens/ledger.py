"""The token ledger (`u`): tokens each host and model served per day (7 days) and per hour (24 h), as the
dashboard, `watch` and the exporter recorded them (`gb10dash usage` prints the same from the command line)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from gb10dash.ledger.report import LedgerView, UsageRow, totals


def _numbers(row: UsageRow) -> tuple[Text, Text, Text]:
    return tuple(Text(f"{n:,}", justify="right") for n in (row.prompt_tokens, row.generated_tokens, row.total))  # type: ignore[return-value]


def _table(rows: tuple[UsageRow, ...], first: str, empty: str) -> DataTable[str | Text]:
    table: DataTable[str | Text] = DataTable(cursor_type="row", zebra_stripes=True)
    table.add_columns(first, "host", "prompt tokens", "generated tokens", "total", "model")  # long names last
    for row in rows:
        when, host, model = row.key
        table.add_row(when, host, *_numbers(row), model)
    if rows:
        table.add_row("total", "", *_numbers(totals(rows)), "")
    else:
        table.add_row("—", "—", "", "", "", empty)
    return table


class LedgerScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,u", "dismiss", "Close")]

    def __init__(self, view: LedgerView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with Vertical(id="ledger"):
            yield Static("Token ledger · per day, 7 days · esc closes", classes="ledger-title")
            yield _table(self.view.days, "day", "no tokens recorded in 7 days")
            yield Static("per hour, 24 hours", classes="ledger-title")
            yield _table(self.view.hours, "hour", "no tokens recorded in 24 hours")
            yield Static(self.view.note, id="ledger-note")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
