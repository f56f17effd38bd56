"""The alert banner under the status line: every firing alert, most severe first; hidden when none."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from gb10dash.alerts import CRITICAL, Alert
from gb10dash.format import clock
from gb10dash.ui.widgets.line import Line


def banner_text(alerts: Sequence[Alert]) -> str:
    """One line (pure): the count, then each alert as `host rule: message (since HH:MM:SS)`."""
    if not alerts:
        return ""
    parts = [f"{a.host} {a.rule}: {a.message} (since {clock(a.since)})" for a in alerts]
    head = f"⚠ {len(alerts)} alert{'s' if len(alerts) > 1 else ''}"
    return f"{head} · " + " · ".join(parts) + " · a: history"


class AlertBanner(Line):
    def show(self, alerts: Sequence[Alert]) -> None:
        self.display = bool(alerts)
        self.set_class(any(a.severity == CRITICAL for a in alerts), "-critical")
        self.set_content(Content(banner_text(alerts)))

    def on_mount(self) -> None:
        self.display = False  # until an alert fires
