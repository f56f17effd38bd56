"""The log pane's lines and its status words, with no Textual in them (the widgets only draw them).

A journal entry becomes a LogLine once: cleaning and measuring the message costs more than drawing
it, and the line's number (one numbering for every pane) is the key of its rendered strip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import tzinfo
from itertools import count
from typing import NamedTuple

from rich.cells import cell_len

from gb10dash.collectors.journal import JournalEntry
from gb10dash.logfilter import (
    CLOCK_WIDTH,
    Level,
    LevelFilter,
    clean_message,
    entry_level,
    format_clock,
    line_matches,
    tps_badge,
)

_seq = count()  # one numbering for every pane: a line's number is its cache key


class LogLine(NamedTuple):
    seq: int
    entry: JournalEntry
    text: str  # the message as one clean screen line
    level: Level
    badge: str | None  # "gen 1,843.8 tok/s" on timing lines
    width: int  # cells of the whole rendered line


def make_line(entry: JournalEntry) -> LogLine:
    text = clean_message(entry.message)
    badge = tps_badge(entry.timing)
    width = CLOCK_WIDTH + 1 + cell_len(text) + (len(badge) + 1 if badge else 0)
    return LogLine(next(_seq), entry, text, entry_level(entry), badge, width)


def plain_text(line: LogLine, tz: tzinfo | None) -> str:
    """The line as the pane shows it, without styles: "HH:MM:SS [badge ]message"."""
    badge = f"{line.badge} " if line.badge else ""
    return f"{format_clock(line.entry.realtime_us, tz)} {badge}{line.text}"


def is_filtering(query: str, level_filter: LevelFilter) -> bool:
    """Whether the text or the level filter hides anything (the status then counts the lines)."""
    return bool(query) or level_filter is not LevelFilter.ALL


def shown(lines: Iterable[LogLine], query: str, level_filter: LevelFilter) -> Iterator[LogLine]:
    """The lines the text and level filters let through, in order."""
    return (line for line in lines if line_matches(line.text, line.level, query, level_filter))


def status_text(
    host: str | None,
    *,
    problem: str | None,
    paused: bool,
    pending: int,
    level_filter: LevelFilter,
    query: str,
    shown_count: int,
    kept_count: int,
) -> str:
    """The pane's status line: the host, then why its log cannot be followed (that alone: it is the
    fix to read), or whether it follows, the filters and how many lines they let through."""
    parts = [host or "no host"]
    if problem:
        parts.append(f"✗ {problem}")
        return "  ·  ".join(parts)
    if paused:
        parts.append(f"‖ paused — {pending:,} new line{'s' if pending != 1 else ''}")
    else:
        parts.append("▶ following")
    if level_filter is not LevelFilter.ALL:
        parts.append(f"level: {level_filter.label}")
    if query:
        parts.append(f"filter: “{query}”")
    if is_filtering(query, level_filter):
        parts.append(f"{shown_count:,} of {kept_count:,} lines")
    return "  ·  ".join(parts)
