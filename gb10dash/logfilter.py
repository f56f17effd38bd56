"""Log pane logic with no Textual in it: levels, filters, highlight classes and spans (pure)."""

from __future__ import annotations

import enum
import math
import re
from datetime import datetime, tzinfo

from gb10dash.collectors.journal import JournalEntry, LineKind, PrintTiming

Span = tuple[int, int]

CLOCK_WIDTH = 8  # "HH:MM:SS"
NO_CLOCK = "--:--:--"

# llama-server's own level letter, after its optional elapsed-time prefix ("0.00.003.466 E ...").
_LEVEL_LETTER = re.compile(r"^\s*(?:\d+\.\d{2}\.\d{3}\.\d{3}\s+)?(?P<level>[EW])\s")
_TPS = re.compile(r"[-+]?(?:\d[\d.,]*|inf|nan)\s*tokens per second", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Level(enum.IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


class LevelFilter(enum.Enum):
    """What the level filter lets through; cycled all → warnings+errors → errors → all."""

    ALL = ("all", Level.INFO)
    WARNINGS = ("warn+err", Level.WARNING)
    ERRORS = ("errors", Level.ERROR)

    def __init__(self, label: str, min_level: Level) -> None:
        self.label = label
        self.min_level = min_level

    def next(self) -> LevelFilter:
        members = list(LevelFilter)
        return members[(members.index(self) + 1) % len(members)]

    def allows(self, level: Level) -> bool:
        return level >= self.min_level


# -- classes: the widget defines a component class for each name -----------------------------
CLASS_TIMESTAMP = "log-pane--timestamp"
CLASS_LOAD = "log-pane--load"
CLASS_ERROR = "log-pane--error"
CLASS_WARNING = "log-pane--warning"
CLASS_TIMING = "log-pane--timing"
CLASS_STOPPING = "log-pane--stopping"
CLASS_TPS = "log-pane--tps"
CLASS_MATCH = "log-pane--match"

_KIND_CLASS: dict[LineKind, str | None] = {
    LineKind.MODEL_LOADING: CLASS_LOAD,
    LineKind.MODEL_LOADED: CLASS_LOAD,
    LineKind.LISTENING: CLASS_LOAD,
    LineKind.TIMING_PROMPT: CLASS_TIMING,
    LineKind.TIMING_EVAL: CLASS_TIMING,
    LineKind.ERROR: CLASS_ERROR,
    LineKind.WARNING: CLASS_WARNING,
    LineKind.STOPPING: CLASS_STOPPING,
    LineKind.OTHER: None,
}


def highlight_class(kind: LineKind) -> str | None:
    """The component class a line of this kind is drawn with (None: plain)."""
    return _KIND_CLASS.get(kind)


def entry_level(entry: JournalEntry) -> Level:
    """Error: PRIORITY ≤ 3, LineKind.ERROR or llama's `E`; warning: 4, WARNING or `W`."""
    letter = _LEVEL_LETTER.match(entry.message)
    code = letter.group("level") if letter else None
    priority = entry.priority
    if entry.kind is LineKind.ERROR or (priority is not None and priority <= 3) or code == "E":
        return Level.ERROR
    if entry.kind is LineKind.WARNING or priority == 4 or code == "W":
        return Level.WARNING
    return Level.INFO


def clean_message(message: str) -> str:
    """One screen line: newlines shown as ⏎, tabs expanded, other control characters as �."""
    if "\n" in message or "\r" in message:
        message = message.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").replace("\n", " ⏎ ")
    if "\t" in message:
        message = message.expandtabs()
    return _CONTROL.sub("\ufffd", message)


def line_matches(text: str, level: Level, query: str, level_filter: LevelFilter) -> bool:
    """Case-insensitive substring `query` (empty: any) and the level filter."""
    if not level_filter.allows(level):
        return False
    return not query or query.casefold() in text.casefold()


def match_spans(text: str, query: str) -> list[Span]:
    """Where `query` occurs in `text`, case-insensitively, without overlaps."""
    if not query:
        return []
    low, needle = text.lower(), query.lower()
    if len(low) != len(text):  # lower() changed lengths (rare letters): no spans rather than wrong ones
        return []
    spans: list[Span] = []
    start = low.find(needle)
    while start >= 0:
        spans.append((start, start + len(needle)))
        start = low.find(needle, start + len(needle))
    return spans


def tps_spans(text: str) -> list[Span]:
    """Where a print_timing line says `N tokens per second`."""
    return [m.span() for m in _TPS.finditer(text)]


def tps_badge(timing: PrintTiming | None) -> str | None:
    """`gen 1,843.8 tok/s` / `prompt 459.3 tok/s` for a timing line, shown before its message."""
    if timing is None or not math.isfinite(timing.tokens_per_second):
        return None
    phase = "prompt" if timing.phase == "prompt" else "gen"
    return f"{phase} {timing.tokens_per_second:,.1f} tok/s"


def format_clock(realtime_us: int | None, tz: tzinfo | None = None) -> str:
    """HH:MM:SS of an entry in `tz` (None: the machine's local zone); `--:--:--` when unknown."""
    if realtime_us is None:
        return NO_CLOCK
    try:
        return datetime.fromtimestamp(realtime_us / 1_000_000, tz).strftime("%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return NO_CLOCK
