"""The header line: overall state (all healthy / N degraded) and the time of the last update."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from gb10dash.core.state import HostState
from gb10dash.format import clock
from gb10dash.ui.widgets.line import Line


def summary(states: Sequence[HostState], updated_at: float | None) -> tuple[str, str]:
    """(text, css class) for the header — pure, so it is tested without a screen."""
    if not states:
        return "gb10dash · waiting for the first update", "-waiting"
    degraded = [s.name for s in states if not s.healthy]
    unreachable = [s.name for s in states if not s.connected]
    if not degraded:
        head, css = f"all {len(states)} hosts healthy", "-healthy"
    else:
        head, css = f"{len(degraded)} of {len(states)} degraded: {', '.join(degraded)}", "-degraded"
        if unreachable:
            head += f" ({len(unreachable)} unreachable)"
    # to the minute: a clock that ticks every second makes every frame span from this line to the
    # panels' changing figures (Textual redraws the rectangle around all changed regions); each panel's
    # border says when its own data is old
    when = clock(updated_at, seconds=False)
    return f"gb10dash · {head} · updated {when}", css


class StatusLine(Line):
    """One line at the top; shows what `summary` says."""

    def show(self, states: Sequence[HostState], updated_at: float | None) -> None:
        text, css = summary(states, updated_at)
        self.set_content(Content(text))
        self.set_classes(css)
