"""Rows of Content drawn one by one, a row that did not change since the last draw not drawn again.

A panel view of several rows (slots, memory) is drawn again every second while a server generates, but
only some of its rows moved (a busy slot's figures, not the idle slot below it). Textual draws a
multi-row Content as a whole: it splits it at its newlines, wraps and styles every row, each time. A
`RowsVisual` draws each row as Textual would (the same wrapping, alignment and styles: the rows of a
Content are wrapped independently, and each cell carries its offset in the whole Content) and takes the
strips of a row whose place, text, spans, width and styles are those of the last draw from that draw. A
text selection is drawn without the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

from textual.content import Content
from textual.css.styles import RulesMap
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, Visual

#: the style rules that change how a row is drawn (the rest are the widget's box, not its text)
_TEXT_RULES = ("text_align", "text_overflow", "text_wrap", "line_pad")

RowKey = tuple[Hashable, ...]


def same_content(a: Content | None, b: Content | None) -> bool:
    """Same text and the same styles over it (Content's `==` compares the text alone)."""
    if a is None or b is None:
        return a is b
    return a.plain == b.plain and a.spans == b.spans


def same_rows(a: Sequence[Content] | None, b: Sequence[Content] | None) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(same_content(x, y) for x, y in zip(a, b))


class MadeRows:
    """A view's rows, made again only when what they are made of changed: show() compares them with the
    last draw, render() draws them, both from one making."""

    def __init__(self) -> None:
        self._inputs: tuple[object, ...] | None = None
        self.rows: list[Content] = []

    def make(self, inputs: tuple[object, ...], make: Callable[[], list[Content]]) -> bool:
        """Make the rows unless `inputs` are those of the last making; True when made now."""
        if self._inputs is not None and inputs == self._inputs:
            return False
        self._inputs, self.rows = inputs, make()
        return True


class RowStrips:
    """The strips of each row of a widget's last draw; a widget keeps one, and clears it when its
    styles or the theme change (`notify_style_update`)."""

    def __init__(self) -> None:
        self._drawn: dict[RowKey, list[Strip]] = {}
        self.drawn_rows = 0  # rows drawn (not taken from the last draw) so far: for tests and benchmarks

    def clear(self) -> None:
        self._drawn.clear()

    def strips(self, rows: Sequence[Content], width: int, style: Style, options: RenderOptions) -> list[Strip]:
        if options.selection is not None:  # a selection is drawn over the rows: nothing to keep
            self._drawn.clear()
            return Content("\n").join(rows).render_strips(width, None, style, options)
        rules = tuple(options.rules.get(rule) for rule in _TEXT_RULES)
        drawn: dict[RowKey, list[Strip]] = {}
        out: list[Strip] = []
        for y, row in enumerate(rows):
            key: RowKey = (y, row.plain, tuple(row.spans), width, style, rules)
            strips = self._drawn.get(key)
            if strips is None:
                strips = _row_strips(y, row, width, style, options)
                self.drawn_rows += 1
            drawn[key] = strips
            out.extend(strips)
        self._drawn = drawn  # only the rows of this draw are kept
        return out


def _row_strips(y: int, row: Content, width: int, style: Style, options: RenderOptions) -> list[Strip]:
    """Row `y`'s strips as Textual draws that row of the whole Content: its cells carry their offset in
    the Content (x, y) for mouse selection, so row y is drawn below y empty rows, which are dropped."""
    if not y:
        return row.render_strips(width, None, style, options)
    return (Content("\n" * y) + row).render_strips(width, None, style, options)[y:]


class RowsVisual(Visual):
    """A Visual of rows (each one line of text, no newlines) drawn through a widget's `RowStrips`."""

    def __init__(self, rows: Sequence[Content], kept: RowStrips) -> None:
        self.rows = tuple(rows)
        self._kept = kept
        self._joined: Content | None = None

    @property
    def content(self) -> Content:
        """The rows as one Content (what the widget shows), for measuring."""
        if self._joined is None:
            self._joined = Content("\n").join(self.rows)
        return self._joined

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        if not width:
            return []
        strips = self._kept.strips(self.rows, width, style, options)
        return strips if height is None else strips[:height]

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.content.get_optimal_width(rules, container_width)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return sum(row.get_height(rules, width) for row in self.rows)
