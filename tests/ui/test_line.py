"""Line asks for a new layout only when its height at its width changes (issue 22: a share line that
wraps onto two rows laid out the whole screen each time its stat time changed)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.content import Content

from gb10dash.ui.widgets.line import Line


class OneLine(App[None]):
    CSS = "Line { width: 20; }"

    def compose(self) -> ComposeResult:
        yield Line()


async def test_a_line_is_laid_out_again_only_when_its_height_changes() -> None:
    app = OneLine()
    async with app.run_test(size=(40, 10)) as pilot:
        line = app.query_one(Line)
        two_rows = Content("share /models nfs4 stat 3 ms")  # 28 cells at width 20: two rows
        line.set_content(two_rows)
        await pilot.pause()
        assert line.size.height == 2
        assert not line.height_changes(two_rows, Content("share /models nfs4 stat 12 ms"))
        assert line.height_changes(two_rows, Content("short"))
        assert line.height_changes(two_rows, Content("share /models nfs4 stat 3 ms, and a reason it is slow"))

        layouts_before = app.screen._layout_required
        line.set_content(Content("share /models nfs4 stat 12 ms"))
        assert line._layout_required is False and app.screen._layout_required == layouts_before
        await pilot.pause()
        assert line.size.height == 2 and "12 ms" in str(line.render())

        line.set_content(Content("one row"))
        assert line._layout_required is True
        await pilot.pause()
        assert line.size.height == 1


async def test_a_line_not_laid_out_yet_asks_for_a_layout() -> None:
    line = Line()
    assert line.height_changes(Content("a"), Content("a"))


async def test_a_line_whose_styles_alone_change_is_drawn_again() -> None:
    """Content's == compares the text alone: a figure turning from ok to bad with the same text (a bar
    crossing its warning level) must still be drawn in its new colour."""
    app = OneLine()
    async with app.run_test(size=(40, 10)) as pilot:
        line = app.query_one(Line)
        line.set_content(Content.styled("95%", "$success"))
        await pilot.pause()
        before = line.render_line(0)
        line.set_content(Content.styled("95%", "$error"))
        await pilot.pause()
        after = line.render_line(0)
        assert before.text == after.text
        assert [s.style for s in before] != [s.style for s in after]
