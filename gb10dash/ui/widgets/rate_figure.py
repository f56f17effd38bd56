"""One big tok/s figure (readable from two metres) with its source and age."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.renderables.digits import Digits as DigitsRenderable
from textual.strip import Strip
from textual.widgets import Digits

from gb10dash.core.rates import Rate
from gb10dash.format import coarse_duration, number
from gb10dash.ui.widgets.labels import MUTED, joined
from gb10dash.ui.widgets.line import Line

#: a figure older than this is dimmed (the server has not reported a newer one)
OLD_AFTER_S = 120.0


def rate_digits(tokens_per_second: float | None) -> str:
    """`57.9`, `1,794`; `-` when unknown (Digits has no en dash)."""
    if tokens_per_second is None:
        return "-"
    if tokens_per_second >= 100:
        return f"{tokens_per_second:,.0f}"
    return f"{tokens_per_second:.1f}"


def rate_source(rate: Rate | None, now: float) -> Content:
    if rate is None or rate.tokens_per_second is None:
        return Content.styled("no figure yet", MUTED)
    parts = ["idle"] if rate.tokens_per_second == 0 else []
    age = coarse_duration(now - rate.at)
    parts += [rate.source.value, age if age == "now" else f"{age} ago"]
    return joined([(p, MUTED) for p in parts], sep=(" · ", MUTED))


def digit_strips(value: str, width: int, style: Style, align: str) -> list[Strip]:
    """The 3 rows of Textual's Digits for `value`, aligned in `width` cells as its widget aligns them
    (Rich's Align over DigitsRenderable), built straight from the glyph rows."""
    meta_style = style + Style(meta={"offset": (0, 0)})
    glyphs = [
        segment.text
        for segment in DigitsRenderable(value, style).render(style)
        if isinstance(segment, Segment) and segment.text != "\n"
    ]
    excess = width - max((len(row) for row in glyphs), default=0)
    left = {"center": excess // 2, "right": excess}.get(align, 0) if excess > 0 else 0
    right = excess - left if excess > 0 and align != "right" else 0
    rows = []
    for row in glyphs:
        segments = [Segment(" " * left, style)] if left else []
        segments.append(Segment(row, meta_style))
        if right:
            segments.append(Segment(" " * right, style))
        rows.append(Strip(segments).crop(0, width))
    return rows


class SteadyDigits(Digits):
    """Digits in a box that does not follow their text (app.tcss: width 1fr, height 3), so a new value
    repaints the figure alone; Textual's Digits lays out the whole screen whenever the text's width
    changes (57.9 → 1,057), several times a minute while a server generates.

    Drawn line by line from the glyph rows (`digit_strips`): Textual draws Digits through Rich (a console
    render of an Align), ~1 ms a figure, four figures a second while two servers generate."""

    _drawn: tuple[object, ...] | None = None
    _rows: list[Strip] = []

    def update(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("value must be a str")
        if value != self._value:
            self._value = value
            self.refresh()

    def render_line(self, y: int) -> Strip:
        if self.text_selection is not None:  # Textual's Digits draws the selection's style
            return super().render_line(y)
        width, style = self.size.width, self.visual_style.rich_style  # cached by Textual until a style change
        align = self.styles.text_align
        key = (self._value, width, style, align)
        if key != self._drawn:
            self._rows, self._drawn = digit_strips(self._value, width, style, align), key
        return self._rows[y] if y < len(self._rows) else Strip.blank(width, style)


class RateFigure(Vertical):
    """`gen tok/s · base 58.8` over a 3-row number and `metrics · 2s ago`."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title

    def compose(self) -> ComposeResult:
        yield Line(self.title, classes="rate-title")
        yield SteadyDigits("-", classes="rate-value")
        yield Line(rate_source(None, 0.0), classes="rate-source")

    def show(self, rate: Rate | None, now: float, baseline: float | None = None, extra: str | None = None) -> None:
        """`extra`: a few words after the source (the gen figure: speculative decoding's acceptance)."""
        title = Content.assemble((self.title, "bold"))
        if baseline is not None:
            title = Content.assemble(title, (f" · base {number(baseline)}", MUTED))
        self.query_one(".rate-title", Line).set_content(title)
        digits = self.query_one(".rate-value", SteadyDigits)
        digits.update(rate_digits(rate.tokens_per_second if rate else None))
        source = rate_source(rate, now)
        if extra:
            source = Content.assemble(source, (f" · {extra}", MUTED))
        self.query_one(".rate-source", Line).set_content(source)
        self.set_class(rate is not None and now - rate.at > OLD_AFTER_S, "-old")
