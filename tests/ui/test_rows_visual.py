"""Rows drawn one by one (issue 22, busy CPU): a row that did not change since the last draw is not
drawn again, and what is drawn is what Textual draws for the rows as one Content."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.content import Content
from textual.pilot import Pilot
from textual.widget import Widget

from gb10dash.ui.widgets.labels import lines
from gb10dash.ui.widgets.rows_visual import RowStrips, RowsVisual, same_content, same_rows


class RowsWidget(Widget):
    DEFAULT_CSS = "RowsWidget { height: auto; width: 24; }"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Content] = [Content("")]
        self.kept = RowStrips()
        self.as_one = False  # draw the rows as one Content, as Textual would

    def render(self) -> RowsVisual | Content:
        return lines(*self.rows) if self.as_one else RowsVisual(self.rows, self.kept)


class RowsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RowsWidget()


def _drawn(widget: Widget) -> list[tuple[str, object]]:
    return [(segment.text, segment.style) for y in range(widget.size.height) for segment in widget.render_line(y)]


async def _show(
    pilot: Pilot[None], widget: RowsWidget, rows: list[Content], *, as_one: bool = False
) -> list[tuple[str, object]]:
    """Draw `rows` (as RowsVisual, or as one Content) and return what the widget drew."""
    widget.rows, widget.as_one = rows, as_one
    widget.refresh(layout=True)
    await pilot.pause()
    return _drawn(widget)


ROWS = [
    Content.assemble(("slot 0 ", "$foreground-muted"), ("● generating", "bold $success"), " 1,234/4,096 30%"),
    Content.styled("slot 1 ◌ idle", "$foreground-muted"),
    Content("a row long enough to wrap onto a second row at this width"),
]


async def test_rows_are_drawn_as_textual_draws_them_as_one_content() -> None:
    app = RowsApp()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(RowsWidget)
        ours = await _show(pilot, widget, ROWS)
        assert widget.size.height == 6  # the first row wraps onto 2 rows, the third onto 3, as in one Content
        assert await _show(pilot, widget, ROWS, as_one=True) == ours


async def test_only_the_rows_that_changed_are_drawn_again() -> None:
    app = RowsApp()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(RowsWidget)
        await _show(pilot, widget, ROWS)
        drawn = widget.kept.drawn_rows  # the first draw (an empty row) and these three rows
        assert drawn in (3, 4)

        first = Content.assemble(("slot 0 ", "$foreground-muted"), " 1,300/4,096 31%")
        await _show(pilot, widget, [first, *ROWS[1:]])
        assert widget.kept.drawn_rows == drawn + 1  # the changed row alone

        await _show(pilot, widget, [first, Content.styled("slot 1 ◌ idle", "$error"), ROWS[2]])  # a new style only
        assert widget.kept.drawn_rows == drawn + 2

        widget.styles.width = 30  # another width: every row again
        await pilot.pause()
        _drawn(widget)
        assert widget.kept.drawn_rows == drawn + 5


def test_same_content_compares_the_styles_too() -> None:
    assert Content.styled("95%", "$success") == Content.styled("95%", "$error")  # Textual's ==: the text
    assert not same_content(Content.styled("95%", "$success"), Content.styled("95%", "$error"))
    assert same_content(Content.styled("95%", "$error"), Content.styled("95%", "$error"))
    assert not same_content(Content("a"), None) and same_content(None, None)
    assert same_rows([Content("a"), Content("b")], [Content("a"), Content("b")])
    assert not same_rows([Content("a")], [Content("a"), Content("b")])


async def test_a_selection_is_drawn_over_the_rows_as_over_one_content() -> None:
    app = RowsApp()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(RowsWidget)
        await _show(pilot, widget, ROWS)
        widget.text_select_all()
        await pilot.pause()
        assert widget.text_selection is not None
        ours = _drawn(widget)
        assert await _show(pilot, widget, list(ROWS)) == ours  # drawn again (a new visual), over the selection
        assert await _show(pilot, widget, ROWS, as_one=True) == ours
