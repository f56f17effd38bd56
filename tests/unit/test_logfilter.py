"""The log pane's pure logic: levels, filter, highlight classes, spans, clock."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest

from gb10dash.collectors.journal import JournalEntry, LineKind, classify, parse_journal_line, parse_print_timing
from gb10dash.logfilter import (
    CLASS_ERROR,
    CLASS_LOAD,
    CLASS_STOPPING,
    CLASS_TIMING,
    CLASS_WARNING,
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

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "journal"


def entry(message: str, priority: int | None = 6) -> JournalEntry:
    kind = classify(message, priority)
    return JournalEntry(None, 0, priority, 1, "llama-server.service", message, kind, parse_print_timing(message))


def fixture_entries(name: str) -> list[JournalEntry]:
    return [e for e in map(parse_journal_line, (FIX / name).read_text().splitlines()) if e is not None]


@pytest.mark.parametrize(
    ("kind", "css_class"),
    [
        (LineKind.MODEL_LOADING, CLASS_LOAD),
        (LineKind.MODEL_LOADED, CLASS_LOAD),
        (LineKind.LISTENING, CLASS_LOAD),
        (LineKind.TIMING_PROMPT, CLASS_TIMING),
        (LineKind.TIMING_EVAL, CLASS_TIMING),
        (LineKind.ERROR, CLASS_ERROR),
        (LineKind.WARNING, CLASS_WARNING),
        (LineKind.STOPPING, CLASS_STOPPING),
        (LineKind.OTHER, None),
    ],
)
def test_highlight_class_for_each_kind(kind: LineKind, css_class: str | None) -> None:
    assert highlight_class(kind) == css_class


def test_every_kind_has_a_decision() -> None:
    from gb10dash.logfilter import _KIND_CLASS

    assert set(_KIND_CLASS) == set(LineKind)


@pytest.mark.parametrize(
    ("message", "priority", "level"),
    [
        ("0.00.003.466 E gguf_init_from_file: failed to open GGUF file", 6, Level.ERROR),
        ("0.00.189.458 W srv  llama_server: security: no API key is set", 6, Level.WARNING),
        ("W srv  load_model: something odd", 6, Level.WARNING),
        ("0.00.193.483 I srv    load_model: loading model '/srv/lab/mid.gguf'", 6, Level.INFO),
        # a W-level line that classify() files under another kind is still a warning
        ("0.00.193.483 W srv    load_model: loading model '/srv/lab/mid.gguf'", 6, Level.WARNING),
        ("kernel said something", 3, Level.ERROR),
        ("kernel said something", 2, Level.ERROR),
        ("kernel said something", 4, Level.WARNING),
        ("kernel said something", 5, Level.INFO),
        ("kernel said something", None, Level.INFO),
        ("llama-server.service: Failed with result 'exit-code'.", 4, Level.ERROR),
        ("llama-server.service: Main process exited, code=exited, status=1/FAILURE", 5, Level.ERROR),
        ("Wfoo is not a level letter", 6, Level.INFO),
    ],
)
def test_entry_level(message: str, priority: int | None, level: Level) -> None:
    assert entry_level(entry(message, priority)) is level


def test_levels_of_the_start_failure_recording() -> None:
    levels = [entry_level(e) for e in fixture_entries("start-failure.jsonl")]
    assert levels.count(Level.ERROR) == 12
    assert levels.count(Level.WARNING) == 1


def test_level_filter_cycles_and_allows() -> None:
    assert LevelFilter.ALL.next() is LevelFilter.WARNINGS
    assert LevelFilter.WARNINGS.next() is LevelFilter.ERRORS
    assert LevelFilter.ERRORS.next() is LevelFilter.ALL
    assert [LevelFilter.ALL.allows(lv) for lv in Level] == [True, True, True]
    assert [LevelFilter.WARNINGS.allows(lv) for lv in Level] == [False, True, True]
    assert [LevelFilter.ERRORS.allows(lv) for lv in Level] == [False, False, True]


def test_line_matches_text_case_insensitively_and_level() -> None:
    assert line_matches("Model Loaded", Level.INFO, "model loaded", LevelFilter.ALL)
    assert line_matches("model loaded", Level.INFO, "", LevelFilter.ALL)
    assert not line_matches("model loaded", Level.INFO, "error", LevelFilter.ALL)
    assert not line_matches("model loaded", Level.INFO, "", LevelFilter.WARNINGS)
    assert line_matches("failed to load", Level.ERROR, "LOAD", LevelFilter.ERRORS)
    assert not line_matches("failed to load", Level.WARNING, "load", LevelFilter.ERRORS)


def test_match_spans() -> None:
    assert match_spans("Load model, load it", "LOAD") == [(0, 4), (12, 16)]
    assert match_spans("aaaa", "aa") == [(0, 2), (2, 4)]
    assert match_spans("anything", "") == []
    assert match_spans("nothing here", "xyz") == []


def test_tps_spans_and_badge() -> None:
    e = entry(
        "0.01.148.577 I slot print_timing: id  3 | task 0 |        eval time =     138.30 ms /   256 tokens"
        " (    0.54 ms per token,  1843.80 tokens per second)"
    )
    assert e.kind is LineKind.TIMING_EVAL
    ((a, b),) = tps_spans(e.message)
    assert e.message[a:b] == "1843.80 tokens per second"
    assert tps_badge(e.timing) == "gen 1,843.8 tok/s"
    prompt = entry(
        "prompt eval time =    1072.35 ms /  1939 tokens (    0.55 ms per token,  1808.19 tokens per second)"
    )
    assert tps_badge(prompt.timing) == "prompt 1,808.2 tok/s"
    assert tps_badge(None) is None
    assert tps_spans("no timing here") == []


def test_clean_message() -> None:
    assert clean_message("plain") == "plain"
    assert clean_message("load_tensors: ....\r....") == "load_tensors: .... ⏎ ...."
    assert clean_message("two\nlines\n") == "two ⏎ lines"
    assert clean_message("a\tb") == "a       b"
    assert clean_message("bell\x07 esc\x1b") == "bell\ufffd esc\ufffd"


def test_format_clock_is_given_its_zone() -> None:
    us = 1788042587_123456  # 2026-08-29 22:29:47.123456 UTC
    assert format_clock(us, UTC) == "22:29:47"
    assert format_clock(us, timezone(timedelta(hours=2))) == "00:29:47"
    assert format_clock(None, UTC) == "--:--:--"
