"""The alert history (`a`): every alert raised since the dashboard started, when it was raised and
when it cleared, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from gb10dash.alerts import Alert
from gb10dash.format import DASH, clock, duration


def history_rows(alerts: Sequence[Alert], now: float) -> list[tuple[str, ...]]:
    """(raised, cleared, lasted, host, rule, severity, message) per alert, newest first (pure)."""
    rows: list[tuple[str, ...]] = []
    for alert in sorted(alerts, key=lambda a: a.raised_at, reverse=True):
        end = alert.cleared_at if alert.cleared_at is not None else now
        rows.append(
            (
                clock(alert.raised_at),
                clock(alert.cleared_at) if alert.cleared_at else "active",
                duration(end - alert.since),
                alert.host,
                alert.rule,
                alert.severity,
                alert.message or DASH,
            )
        )
    return rows


class AlertHistoryScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,a", "dismiss", "Close")]

    def __init__(self, alerts: Sequence[Alert], now: float) -> None:
        super().__init__()
        self._rows = history_rows(alerts, now)

    def compose(self) -> ComposeResult:
        with Vertical(id="alert-history"):
            yield Static(f"Alert history · {len(self._rows)} since start · esc closes", id="alert-history-title")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("raised", "cleared", "lasted", "host", "rule", "severity", "message")
            table.add_rows(self._rows)
            if not self._rows:
                table.add_row("—", "—", "—", "—", "—", "—", "no alert has been raised")
            yield table

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
