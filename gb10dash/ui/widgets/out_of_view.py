"""The hosts whose panels are out of view (a small terminal: 80x24 fits one panel of two), one short
line each under the panels — state, model, gen tok/s — so no host is on the screen without a trace.
Hidden when every panel shows."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from gb10dash.core.state import HostState
from gb10dash.ui.widgets.fleet_table import fleet_row
from gb10dash.ui.widgets.line import Line


def out_of_view_text(states: Sequence[HostState]) -> str:
    """One line per host (pure): `▸ stella  healthy · Qwen_Qwen3-8B-Q8_0.gguf · gen 42.1 tok/s` (a degraded
    host with its first problem)."""
    lines = []
    for state in states:
        name, word, _unit, model, gen, *_rest = fleet_row(state)
        problems = state.problems() if state.connected else []
        why = f": {problems[0]}" if problems else ""
        lines.append(f"▸ {name}  {word}{why} · {model} · gen {gen} tok/s")
    if lines:
        lines[-1] += "   (n / N: focus it)"
    return "\n".join(lines)


class OutOfView(Line):
    def show(self, states: Sequence[HostState]) -> None:
        self.display = bool(states)
        self.set_content(Content(out_of_view_text(states)))

    def on_mount(self) -> None:
        self.display = False
