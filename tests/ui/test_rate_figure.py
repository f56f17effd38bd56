"""The big tok/s figure drawn straight from Textual's glyph rows (issue 22, busy CPU) looks exactly as
Textual's Digits draws it: same glyphs, same alignment, same styles."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Digits

from gb10dash.ui.widgets.rate_figure import SteadyDigits

ALIGNS = ("left", "center", "right", "plain")


class BothDigits(App[None]):
    CSS = """
    Digits { width: 1fr; height: 3; text-style: bold; color: $primary; }
    .center { text-align: center; }
    .right { text-align: right; }
    .plain { text-style: none; }
    """

    def compose(self) -> ComposeResult:
        for align in ALIGNS:
            yield Digits("", id=f"textual-{align}", classes=align)
            yield SteadyDigits("", id=f"ours-{align}", classes=align)


@pytest.mark.parametrize("value", ["1,794", "57.9", "-", "12345678901234567890123", "x?"])
async def test_steady_digits_draw_as_textual_digits(value: str) -> None:
    app = BothDigits()
    async with app.run_test(size=(40, 30)) as pilot:
        for align in ALIGNS:
            theirs = app.query_one(f"#textual-{align}", Digits)
            ours = app.query_one(f"#ours-{align}", SteadyDigits)
            theirs.update(value)
            ours.update(value)
            await pilot.pause()
            for y in range(4):  # the three glyph rows and a row below them
                expected = [(s.text, s.style) for s in Digits.render_line(theirs, y)]
                assert [(s.text, s.style) for s in ours.render_line(y)] == expected, (value, align, y)
