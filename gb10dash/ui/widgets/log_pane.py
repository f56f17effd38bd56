"""The focused host's journal tail: follow, pause, text/level filter, highlighted lines; bounded.

This widget keeps the host's lines and its pause buffer and holds the filters; the lines on screen are
LogLines' (log_lines), and what a line and the status say is log_model's (no Textual there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import tzinfo
from itertools import islice

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Static

from gb10dash.collectors.journal import JournalEntry
from gb10dash.logfilter import LevelFilter
from gb10dash.ui.widgets.log_lines import LogLines
from gb10dash.ui.widgets.log_model import LogLine, is_filtering, make_line, shown, status_text


def _reused(made: dict[int, LogLine], entry: JournalEntry) -> LogLine:
    """The line made before for this very entry object, or a new one."""
    line = made.get(id(entry))
    return line if line is not None and line.entry is entry else make_line(entry)


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
        if self.is_mounted:
            self._view.extend(list(shown(lines, self.search, self.level_filter)), self._kept[0].seq)
            if is_filtering(self.search, self.level_filter):
                self._update_status()

    def _refilter(self, *, to_end: bool = False) -> None:
        if self.is_mounted:
            self._view.replace(shown(self._kept, self.search, self.level_filter), self.search, to_end=to_end)
            self._update_status()

    def set_problem(self, problem: str | None) -> None:
        """Why the shown host's log stays empty (e.g. the journal is not readable by the login), or None."""
        if problem != self._problem:
            self._problem = problem
            self._update_status()

    def _update_status(self) -> None:
        if not self.is_mounted:
            return
        text = status_text(
            self._host,
            problem=self._problem,
            paused=self.paused,
            pending=self._pending_total,
            level_filter=self.level_filter,
            query=self.search,
            shown_count=len(self._view.lines),
            kept_count=len(self._kept),
        )
        problem = bool(self._problem)
        self._status.set_class(problem, "-problem")
        # a problem wraps (its fix must be readable); otherwise one line of fixed height, no new layout
        self._status.update(Content(text), layout=problem)
        if not problem:
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
