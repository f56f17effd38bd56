"""What is wrong with a host, at the top of its panel: unreachable since…, problems, warnings."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from gb10dash.alerts import Alert
from gb10dash.core.state import HostState
from gb10dash.format import clock, duration
from gb10dash.ui.widgets.labels import BAD, MUTED, WARN, lines
from gb10dash.ui.widgets.line import Line


def alerts_content(state: HostState, now: float, firing: Sequence[Alert] = ()) -> Content | None:
    """Firing alerts (the engine's, held past their duration) first, then what is wrong now."""
    rows: list[Content] = [
        Content.assemble(
            ("⚠ ALERT ", f"bold {BAD}"),
            (f"{a.rule}: {a.message}", f"bold {BAD}"),
            (f" (since {clock(a.since)})", MUTED),
        )
        for a in firing
    ]
    if not state.connected:
        since = state.unreachable_since
        reason = f" ({state.unreachable_reason or 'not connected'})"
        when = f" since {clock(since)}" if since is not None else ""
        rows.append(Content.styled(f"✗ unreachable{when}{reason}", f"bold {BAD}"))
        ago = f"for {duration(now - since)} · " if since is not None else ""
        rows.append(Content.styled(f"{ago}last known values, greyed", MUTED))
        return lines(*rows)
    rows += [Content.assemble(("✗ ", BAD), (problem, f"bold {BAD}")) for problem in state.problems()]
    rows += [Content.assemble(("! ", WARN), (warning, WARN)) for warning in state.warnings()]
    return lines(*rows) if rows else None


class AlertsView(Line):
    """Hidden while the host is healthy and nothing needs saying."""

    def show(self, state: HostState, now: float, firing: Sequence[Alert] = ()) -> None:
        content = alerts_content(state, now, firing)
        self.display = content is not None
        if content is not None:
            self.set_content(content)
