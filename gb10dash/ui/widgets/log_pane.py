"""The focused host's journal tail: follow, pause, text/level filter, highlighted lines; bounded."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from itertools import count, islice
from typing import NamedTuple

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Static

from gb10dash.collectors.journal import JournalEntry
from gb10dash.logfilter import (
    CLASS_ERROR,
    CLASS_LOAD,
    CLASS_MATCH,
    CLASS_STOPPING,
    CLASS_TIMESTAMP,
    CLASS_TIMING,
    CLASS_TPS,
    CLASS_WARNING,
    CLOCK_WIDTH,
    Level,
    LevelFilter,
    clean_message,
    entry_level,
    format_clock,
    highlight_class,
    line_matches,
    match_spans,
    tps_badge,
    tps_spans,
)

_seq = count()  # one numbering for every pane: a line's number is its cache key

#: rendered lines kept (Line API cache): a few screens' worth. Each cached Strip also caches its
#: crop_extend result, ~3 KiB a log line in all: 1024 lines were ~3.3 MiB, 256 are ~0.8 MiB
STRIP_CACHE_LINES = 256


class LogLine(NamedTuple):
    seq: int
    entry: JournalEntry
    text: str  # the message as one clean screen line
    level: Level
    badge: str | None  # "gen 1,843.8 tok/s" on timing lines
    width: int  # cells of the whole rendered line


def _reused(made: dict[int, LogLine], entry: JournalEntry) -> LogLine:
    """The line made before for this very entry object, or a new one."""
    line = made.get(id(entry))
    return line if line is not None and line.entry is entry else make_line(entry)


def make_line(entry: JournalEntry) -> LogLine:
    text = clean_message(entry.message)
    badge = tps_badge(entry.timing)
    width = CLOCK_WIDTH + 1 + cell_len(text) + (len(badge) + 1 if badge else 0)
    return LogLine(next(_seq), entry, text, entry_level(entry), badge, width)


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
        badge = f"{line.badge} " if line.badge else ""
        return f"{format_clock(line.entry.realtime_us, self.tz)} {badge}{line.text}"

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


class LogPane(Widget, can_focus=True):
    """The journal of the host being shown. The app feeds it; it reads no clock and does no I/O."""

    BINDINGS = [
        Binding("p", "toggle_pause", "Pause", tooltip="Pause or resume following the log", id="log.pause"),
        Binding("slash", "search", "Search", key_display="/", tooltip="Filter lines by text", id="log.search"),
        Binding("l", "cycle_level", "Level", tooltip="Show all → warnings+errors → errors", id="log.level"),
        Binding("end,G", "follow", "Follow", key_display="End", tooltip="Jump to the end and follow", id="log.follow"),
        Binding("escape", "close_search", "Clear filter", tooltip="Clear the text filter", id="log.clear"),
        Binding("up", "scroll_log('up')", show=False),
        Binding("down", "scroll_log('down')", show=False),
        Binding("pageup", "scroll_log('page_up')", show=False),
        Binding("pagedown", "scroll_log('page_down')", show=False),
        Binding("home", "scroll_log('home')", show=False),
        Binding("left", "scroll_log('left')", show=False),
        Binding("right", "scroll_log('right')", show=False),
    ]
    DEFAULT_CSS = """
    LogPane {
        height: 1fr;
        layout: vertical;
        & > #log-status { height: 1; padding: 0 1; background: $panel; color: $foreground; }
        & > #log-status.-paused { background: $warning-muted; text-style: bold; }
        & > #log-status.-problem { height: auto; background: $error 30%; text-style: bold; }
        & > #log-search { display: none; }
        & > #log-search.-open { display: block; }
        &:focus > LogLines { background-tint: $foreground 4%; }
    }
    """

    paused: reactive[bool] = reactive(False, init=False)
    """While paused new lines are buffered (bounded), not shown."""
    level_filter: reactive[LevelFilter] = reactive(LevelFilter.ALL, init=False)
    search: reactive[str] = reactive("", init=False)
    """Case-insensitive text the shown lines contain ("" shows all)."""

    def __init__(
        self, *, max_lines: int = 5000, id: str | None = None, tz: tzinfo | None = None, classes: str | None = None
    ) -> None:
        """`tz`: zone of the HH:MM:SS column (None: the machine's local zone)."""
        super().__init__(id=id, classes=classes)
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self._max_lines = max_lines
        self._host: str | None = None
        self._kept: deque[LogLine] = deque(maxlen=max_lines)
        # the lines of the host shown before: switching back (n, N) reuses them — and their rendered
        # strips, cached by line number — instead of making and rendering up to max_lines again
        self._previous: tuple[str | None, deque[LogLine]] = (None, deque())
        self._pending: deque[JournalEntry] = deque(maxlen=max_lines)
        self._pending_total = 0
        self._problem: str | None = None  # why this host's log cannot be followed (and the fix)
        self._status = Static(id="log-status", markup=False)
        self._input = Input(placeholder="filter text — Enter keeps it, Esc clears it", id="log-search", compact=True)
        self._view = LogLines(max_lines, tz, id="log-lines")

    def compose(self) -> ComposeResult:
        yield self._status
        yield self._input
        yield self._view

    def on_mount(self) -> None:
        self._refilter(to_end=True)

    # -- read-only state -------------------------------------------------------------------
    @property
    def max_lines(self) -> int:
        return self._max_lines

    @property
    def host(self) -> str | None:
        return self._host

    @property
    def kept_entries(self) -> tuple[JournalEntry, ...]:
        """The entries the pane keeps (≤ max_lines), whatever the filter."""
        return tuple(line.entry for line in self._kept)

    @property
    def visible_lines(self) -> tuple[str, ...]:
        """The lines the filter lets through, as plain text ("HH:MM:SS [badge ]message")."""
        return tuple(self._view.plain(line) for line in self._view.lines)

    @property
    def on_screen_lines(self) -> tuple[str, ...]:
        """The lines in the pane's window now (what the operator sees: narrow it with the filter)."""
        view = self._view
        top = int(view.scroll_y)
        return tuple(view.plain(line) for line in islice(view.lines, top, top + max(1, view.size.height)))

    @property
    def pending_count(self) -> int:
        """New lines that arrived while paused (the buffer keeps the last max_lines of them)."""
        return self._pending_total

    # -- feeding ---------------------------------------------------------------------------
    def show_host(self, name: str, entries: Sequence[JournalEntry]) -> None:
        """Show another host's log instead (its last max_lines entries)."""
        previous_host, previous_lines = self._previous
        self._previous = (self._host, self._kept)
        made = {id(line.entry): line for line in previous_lines} if previous_host == name else {}
        self._host = name
        self._pending.clear()
        self._pending_total = 0
        self._kept = deque((_reused(made, entry) for entry in entries[-self._max_lines :]), maxlen=self._max_lines)
        self._refilter(to_end=True)

    def append(self, entries: Sequence[JournalEntry]) -> None:
        """New entries of the host being shown: one batch, one redraw."""
        if not entries:
            return
        if self.paused:
            self._pending.extend(entries)
            self._pending_total += len(entries)
            self._update_status()
            return
        self._add(entries)

    def _add(self, entries: Sequence[JournalEntry]) -> None:
        lines = [make_line(entry) for entry in entries[-self._max_lines :]]
        self._kept.extend(lines)
        query, level_filter = self.search, self.level_filter
        shown = [line for line in lines if line_matches(line.text, line.level, query, level_filter)]
        if self.is_mounted:
            self._view.extend(shown, self._kept[0].seq)
            if self._filtered:
                self._update_status()

    def _refilter(self, *, to_end: bool = False) -> None:
        query, level_filter = self.search, self.level_filter
        shown = (line for line in self._kept if line_matches(line.text, line.level, query, level_filter))
        if self.is_mounted:
            self._view.replace(shown, query, to_end=to_end)
            self._update_status()

    @property
    def _filtered(self) -> bool:
        return bool(self.search) or self.level_filter is not LevelFilter.ALL

    def set_problem(self, problem: str | None) -> None:
        """Why the shown host's log stays empty (e.g. the journal is not readable by the login), or None."""
        if problem != self._problem:
            self._problem = problem
            self._update_status()

    def _update_status(self) -> None:
        if not self.is_mounted:
            return
        parts = [self._host or "no host"]
        if self._problem:
            parts.append(f"✗ {self._problem}")
            self._status.set_class(True, "-problem")
            self._status.update(Content("  ·  ".join(parts)), layout=True)  # wraps: the fix must be readable
            return
        self._status.set_class(False, "-problem")
        if self.paused:
            parts.append(f"‖ paused — {self._pending_total:,} new line{'s' if self._pending_total != 1 else ''}")
        else:
            parts.append("▶ following")
        if self.level_filter is not LevelFilter.ALL:
            parts.append(f"level: {self.level_filter.label}")
        if self.search:
            parts.append(f"filter: “{self.search}”")
        if self._filtered:
            parts.append(f"{len(self._view.lines):,} of {len(self._kept):,} lines")
        self._status.update(Content("  ·  ".join(parts)), layout=False)  # one line, fixed height
        self._status.set_class(self.paused, "-paused")

    # -- reactives -------------------------------------------------------------------------
    def watch_paused(self, paused: bool) -> None:
        if not paused and self._pending:
            pending = list(self._pending)
            self._pending.clear()
            self._add(pending)
        if not paused:
            self._pending_total = 0
            if self.is_mounted:
                self._view.scroll_to_end()
        self._update_status()

    def watch_level_filter(self) -> None:
        self._refilter()

    def watch_search(self) -> None:
        self._refilter()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_search":  # only while there is something to clear (else Esc goes on up)
            return bool(self._search_open or self.search)  # False: hidden, and not run
        if action == "search":
            return not self._input.has_focus
        return True

    # -- actions ---------------------------------------------------------------------------
    def action_toggle_pause(self) -> None:
        self.paused = not self.paused

    def action_cycle_level(self) -> None:
        self.level_filter = self.level_filter.next()

    def action_follow(self) -> None:
        self.paused = False
        self._view.scroll_to_end()

    @property
    def _search_open(self) -> bool:
        return self._input.has_class("-open")

    def action_search(self) -> None:
        self._input.add_class("-open")
        self._input.focus()
        self.refresh_bindings()

    def action_close_search(self) -> None:
        if not self._search_open and not self.search:
            raise SkipAction()
        self._input.value = ""
        self.search = ""
        self._close_input()

    def action_scroll_log(self, how: str) -> None:
        view = self._view
        {
            "up": view.scroll_up,
            "down": view.scroll_down,
            "left": view.scroll_left,
            "right": view.scroll_right,
            "page_up": view.scroll_page_up,
            "page_down": view.scroll_page_down,
            "home": view.scroll_home,
        }[how](animate=False)

    def _close_input(self) -> None:
        had_focus = self._input.has_focus
        self._input.remove_class("-open")
        if had_focus:
            self.focus()
        self.refresh_bindings()

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search = event.value

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close_input()
