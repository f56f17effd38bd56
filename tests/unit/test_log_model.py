"""The log pane's lines and status words without Textual: what a line reads as, which lines the
filters let through, and the status line in each state."""

from __future__ import annotations

from datetime import UTC

from gb10dash.collectors.journal import JournalEntry, LineKind, PrintTiming
from gb10dash.logfilter import LevelFilter
from gb10dash.ui.widgets.log_model import is_filtering, make_line, plain_text, shown, status_text


def entry(
    message: str, *, priority: int | None = None, kind: LineKind = LineKind.OTHER, timing: PrintTiming | None = None
) -> JournalEntry:
    return JournalEntry(None, 3_600_000_000, priority, 1234, "llama-server.service", message, kind, timing)


def test_a_line_reads_clock_then_message_and_is_measured_whole() -> None:
    line = make_line(entry("two\nlines"))
    assert plain_text(line, UTC) == "01:00:00 two ⏎ lines"
    assert line.width == len(plain_text(line, UTC))


def test_a_timing_line_carries_its_badge_before_the_message() -> None:
    timing = PrintTiming("eval", 1000.0, 1843, 1843.8)
    line = make_line(entry("eval time = 1000.00 ms / 1843 tokens", kind=LineKind.TIMING_EVAL, timing=timing))
    assert plain_text(line, UTC) == "01:00:00 gen 1,843.8 tok/s eval time = 1000.00 ms / 1843 tokens"
    assert line.width == len(plain_text(line, UTC))


def test_lines_are_numbered_in_the_order_they_are_made() -> None:
    first, second = make_line(entry("a")), make_line(entry("b"))
    assert second.seq > first.seq


def test_the_filters_keep_order_and_drop_what_they_hide() -> None:
    lines = [make_line(entry("alpha")), make_line(entry("boom", priority=3)), make_line(entry("beta", priority=4))]
    assert [line.text for line in shown(lines, "", LevelFilter.ALL)] == ["alpha", "boom", "beta"]
    assert [line.text for line in shown(lines, "", LevelFilter.ERRORS)] == ["boom"]
    assert [line.text for line in shown(lines, "BE", LevelFilter.WARNINGS)] == ["beta"]
    assert not is_filtering("", LevelFilter.ALL)
    assert is_filtering("x", LevelFilter.ALL) and is_filtering("", LevelFilter.ERRORS)


def status(host: str | None = "spark-1", **changes: object) -> str:
    state: dict = dict(
        problem=None, paused=False, pending=0, level_filter=LevelFilter.ALL, query="", shown_count=9, kept_count=9
    )
    return status_text(host, **{**state, **changes})


def test_the_status_line_in_each_state() -> None:
    assert status() == "spark-1  ·  ▶ following"
    assert status(None) == "no host  ·  ▶ following"
    assert status(paused=True, pending=1) == "spark-1  ·  ‖ paused — 1 new line"
    assert status(paused=True, pending=1200) == "spark-1  ·  ‖ paused — 1,200 new lines"
    assert (
        status(level_filter=LevelFilter.ERRORS, query="oom", shown_count=2, kept_count=5000)
        == "spark-1  ·  ▶ following  ·  level: errors  ·  filter: “oom”  ·  2 of 5,000 lines"
    )


def test_a_problem_is_all_the_status_says() -> None:
    problem = "journal not readable: add the login to systemd-journal"
    assert status(problem=problem, paused=True, query="x") == f"spark-1  ·  ✗ {problem}"
