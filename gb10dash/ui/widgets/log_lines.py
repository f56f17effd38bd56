"""The log pane's lines on screen: only those in view are drawn (Textual's Line API), each rendered once.

A rendered line is cached by its number, so scrolling and new lines cost a crop, not a render; the
cache is dropped when the highlighted text or the theme changes (the strips carry both).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import tzinfo

from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from gb10dash.logfilter import (
    CLASS_ERROR,
    CLASS_LOAD,
    CLASS_MATCH,
    CLASS_STOPPING,
    CLASS_TIMESTAMP,
    CLASS_TIMING,
    CLASS_TPS,
    CLASS_WARNING,
    format_clock,
    highlight_class,
    match_spans,
    tps_spans,
)
from gb10dash.ui.widgets.log_model import LogLine, plain_text

#: rendered lines kept (Line API cache): a few screens' worth. Each cached Strip also caches its
#: crop_extend result, ~3 KiB a log line in all: 1024 lines were ~3.3 MiB, 256 are ~0.8 MiB
STRIP_CACHE_LINES = 256


class LogLines(ScrollView, can_focus=False):
    """Draws only the lines on screen (Line API); keeps at most `max_lines`."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES = {
        CLASS_TIMESTAMP,
        CLASS_LOAD,
        CLASS_ERROR,
        CLASS_WARNING,
        CLASS_TIMING,
        CLASS_STOPPING,
        CLASS_TPS,
        CLASS_MATCH,
    }
    DEFAULT_CSS = """
    LogLines {
        height: 1fr;
        background: $surface;
        color: $foreground;
        overflow: auto auto;
        scrollbar-size-vertical: 1;
    }
    LogLines > .log-pane--timestamp { color: $text-muted; }
    LogLines > .log-pane--load { color: $text-primary; text-style: bold; }
    LogLines > .log-pane--error { color: $text-error; text-style: bold; }
    LogLines > .log-pane--warning { color: $text-warning; }
    LogLines > .log-pane--timing { color: $text-success; }
    LogLines > .log-pane--stopping { color: $text-secondary; text-style: italic; }
    LogLines > .log-pane--tps { color: $text-success; text-style: bold reverse; }
    LogLines > .log-pane--match { background: $warning 45%; text-style: bold underline; }
    """

    def __init__(self, max_lines: int, tz: tzinfo | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[LogLine] = deque(maxlen=max_lines)
        self.match_text = ""  # occurrences are highlighted
        self.tz = tz
        self.follow = True  # scrolled to the end: new lines scroll into view
        self._width = 0
        self._cache: LRUCache[int, Strip] = LRUCache(STRIP_CACHE_LINES)
        self._base_style: Style | None = None

    # -- content ---------------------------------------------------------------------------
    def replace(self, lines: Iterable[LogLine], query: str, *, to_end: bool = False) -> None:
        self.lines.clear()
        self.lines.extend(lines)
        if query != self.match_text:  # cached strips carry the old highlights (otherwise keyed by line)
            self._cache.clear()
        self.match_text = query
        self._width = max((line.width for line in self.lines), default=0)
        self._resize()
        if to_end:
            self.follow = True
        if self.follow:
            self.scroll_to_end()
        elif self.scroll_y > self.max_scroll_y:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)
        self.refresh()

    def extend(self, lines: Sequence[LogLine], first_kept_seq: int) -> None:
        """Add lines at the end; drop those older than the pane keeps; follow if following."""
        before = len(self.lines)
        dropped = max(0, before + len(lines) - (self.lines.maxlen or 0))
        self.lines.extend(lines)
        while self.lines and self.lines[0].seq < first_kept_seq:
            self.lines.popleft()
            dropped += 1
        if not lines and not dropped:
            return
        if lines:
            self._width = max(self._width, max(line.width for line in lines))
        self._resize()
        if self.follow and not self.is_vertical_scrollbar_grabbed:
            self.scroll_to_end()
        elif dropped:  # keep the lines being read in place while older ones go
            self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
        self.refresh()

    def scroll_to_end(self) -> None:
        self.follow = True
        self.scroll_end(animate=False, immediate=bool(self.size), x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.follow = new_value >= self.max_scroll_y

    def on_resize(self) -> None:
        if self.follow:
            self.scroll_end(animate=False, x_axis=False)

    def _resize(self) -> None:
        size = Size(self._width, len(self.lines))
        if size == self.virtual_size:
            return
        if not self.size or self._scrollbars_for(size) != self._scrollbars_for(self.virtual_size):
            self.virtual_size = size  # a scrollbar comes or goes: the gutter changes, a new layout
            return
        # the same scrollbars over a longer or shorter log: setting virtual_size would lay out the
        # whole screen again (a full repaint per new log line or host switch); the bars are updated here
        self.set_reactive(LogLines.virtual_size, size)
        self._scroll_update(size)
        self.refresh()

    def _scrollbars_for(self, size: Size) -> tuple[bool, bool]:
        """(vertical, horizontal) scrollbar needed for a virtual size, within the current region."""
        room = self.scrollable_content_region
        return size.height > room.height, size.width > room.width

    def plain(self, line: LogLine) -> str:
        return plain_text(line, self.tz)

    # -- drawing ---------------------------------------------------------------------------
    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._cache.clear()
        self._base_style = None

    @property
    def _base(self) -> Style:
        """The widget's own style, looked up once per style change rather than once a line."""
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self._base
        if not 0 <= index < len(self.lines):
            return Strip.blank(width, base)
        line = self.lines[index]
        strip = self._cache.get(line.seq)
        if strip is None:
            strip = self._cache[line.seq] = self._render_log_line(line)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _render_log_line(self, line: LogLine) -> Strip:
        style = self.get_component_rich_style
        text = Text(no_wrap=True, end="")
        text.append(format_clock(line.entry.realtime_us, self.tz), style(CLASS_TIMESTAMP))
        text.append(" ")
        if line.badge:
            text.append(line.badge, style(CLASS_TPS))
            text.append(" ")
        start = len(text)
        kind_class = highlight_class(line.entry.kind)
        text.append(line.text, style(kind_class) if kind_class else None)
        if kind_class == CLASS_TIMING:
            for a, b in tps_spans(line.text):
                text.stylize(style(CLASS_TPS), start + a, start + b)
        for a, b in match_spans(line.text, self.match_text):
            text.stylize(style(CLASS_MATCH), start + a, start + b)
        text.stylize_before(self._base)
        return Strip(text.render(self.app.console), line.width)
