"""journalctl -o json lines and llama-server log classification, on recorded and written fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.collectors.journal import (
    MESSAGE_CAP,
    JournalEntry,
    LineKind,
    classify,
    decode_message,
    journal_access_problem,
    journalctl_argv,
    parse_id,
    parse_journal_line,
    parse_listen_url,
    parse_print_timing,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def entries(name: str) -> list[JournalEntry | None]:
    return [parse_journal_line(line) for line in (FIX / "journal" / name).read_text().splitlines()]


def kinds(name: str) -> list[LineKind]:
    return [e.kind for e in entries(name) if e is not None]


def test_argv() -> None:
    assert journalctl_argv("llama-server", follow=False, after_cursor=None, lines=None) == [
        "journalctl",
        "-u",
        "llama-server",
        "-o",
        "json",
        "--all",
        "--no-pager",
    ]
    cursor = "s=3f2e;i=4ed36;b=6c7c;m=9ea6;t=65a3;x=9865"
    argv = journalctl_argv("llama-server", follow=True, after_cursor=cursor, lines=200)
    assert argv == [
        "journalctl",
        "-u",
        "llama-server",
        "-o",
        "json",
        "--all",
        "--no-pager",
        "-f",
        "--after-cursor=" + cursor,
        "-n",
        "200",
    ]
    assert journalctl_argv("x", follow=False, after_cursor=None, lines=None, user=True)[1] == "--user-unit"
    with pytest.raises(ValueError):
        journalctl_argv("-f", follow=False, after_cursor=None, lines=None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ([108, 111, 97, 100, 58, 32, 49, 48, 37], "load: 10%"),
        ([104, 105, 255], "hi\ufffd"),
        (["first", "second"], "first\nsecond"),
        (None, ""),
        ([], ""),
    ],
)
def test_decode_message(value: object, expected: str) -> None:
    assert decode_message(value) == expected


def test_new_generation_recorded_log() -> None:
    es = [e for e in entries("new-gen-h100.jsonl") if e is not None]
    assert len(es) == 41
    first = es[0]
    assert first.cursor and first.cursor.startswith("s=")
    assert (first.realtime_us, first.priority, first.pid, first.unit) == (
        1788042587000000,
        6,
        6262,
        "llama-server.service",
    )
    assert first.at == 1788042587.0
    k = [e.kind for e in es]
    assert k.index(LineKind.MODEL_LOADING) < k.index(LineKind.MODEL_LOADED) < k.index(LineKind.LISTENING)
    assert k.count(LineKind.TIMING_PROMPT) == 4 and k.count(LineKind.TIMING_EVAL) == 4
    assert k.count(LineKind.WARNING) == 5 and k[-1] == LineKind.STOPPING
    assert LineKind.ERROR not in k
    last_eval = [e for e in es if e.kind == LineKind.TIMING_EVAL][-1]
    assert last_eval.timing is not None
    assert (last_eval.timing.tokens, last_eval.timing.tokens_per_second, last_eval.timing.task) == (3000, 1793.52, 771)


def test_old_generation_gb10_log() -> None:
    es = entries("old-gen-gb10.jsonl")
    assert es[0] is None  # "-- Journal begins at ... --"
    by_msg = {e.message: e.kind for e in es if e is not None}
    assert by_msg["main: model loaded"] == LineKind.MODEL_LOADED
    assert by_msg["main: server is listening on http://0.0.0.0:8000 - starting the main loop"] == LineKind.LISTENING
    # the early "HTTP server is listening, hostname: ..." line comes before the model is loaded
    assert by_msg["main: HTTP server is listening, hostname: 0.0.0.0, port: 8000, http threads: 19"] == LineKind.OTHER
    assert (
        by_msg["llama_model_load_from_file_impl: using device CUDA0 (NVIDIA GB10) (000f:01:00.0) - 118548 MiB free"]
        == LineKind.MODEL_LOADING
    )
    assert by_msg["      total time =    9774.48 ms /  2451 tokens"] == LineKind.OTHER
    started = [e for e in es if e is not None and e.message.startswith("Started")][0]
    assert (started.unit, started.pid) == ("llama-server.service", 1)  # systemd's line: UNIT=, not init.scope
    timings = [e.timing for e in es if e is not None and e.timing is not None]
    assert [(t.phase, t.tokens, t.tokens_per_second) for t in timings] == [
        ("prompt", 1939, 1808.19),
        ("eval", 512, 58.84),
    ]


def test_progress_bytes_and_ansi_are_decoded() -> None:
    es = entries("old-gen-gb10.jsonl")
    progress = [e for e in es if e is not None and e.message.startswith("load_tensors: ....")][0]
    assert "\x1b" not in progress.message and progress.message.endswith("\ufffd")


def test_start_failure_is_errors_then_systemd_verdict() -> None:
    es = [e for e in entries("start-failure.jsonl") if e is not None]
    k = [e.kind for e in es]
    assert k.count(LineKind.ERROR) == 10 + 2  # llama-server E lines + systemd
    verdict = [e for e in es if "Failed with result" in e.message][0]
    assert (verdict.kind, verdict.priority, verdict.unit) == (LineKind.ERROR, 4, "llama-server.service")
    assert es[-1].kind == LineKind.OTHER  # "Scheduled restart job"


def test_odd_fields() -> None:
    es = entries("odd-fields.jsonl")
    assert es[0] is None  # blank line
    assert es[1] is not None and es[1].message == "load: 10%\ufffd\ufffd"
    assert es[2] is not None and es[2].message == "W srv  llama_server: security: no API key is set"
    assert es[2].kind == LineKind.WARNING
    assert es[3] is not None and es[3].message == "first line\nsecond line"
    assert es[4] is not None and es[4].message == "" and es[4].kind == LineKind.OTHER  # null: too large
    assert es[5] is not None and es[5].unit == "llama-server.service"  # _SYSTEMD_USER_UNIT wins over user@1000
    assert es[6] is not None and es[6].kind == LineKind.ERROR and es[6].priority == 3
    assert es[7] is None and es[8] is None  # broken JSON, not an object
    assert es[9] is not None and (es[9].cursor, es[9].realtime_us, es[9].unit) == (None, None, None)
    assert es[10] is not None and (es[10].pid, es[10].priority) == (111, None)
    assert es[11] is None  # "-- No entries --"


@pytest.mark.parametrize(
    "log",
    [
        "h100_server.stderr.log",
        "alias_server.stderr.log",
        "loading_server.stderr.log",
        "no_timestamps_prefix.stderr.log",
        "default_port.stderr.log",
    ],
)
def test_recorded_stderr_logs_reach_listening(log: str) -> None:
    lines = (FIX / "llama-server" / log).read_text().splitlines()
    k = [classify(line, 6) for line in lines]
    assert LineKind.ERROR not in k
    assert k.index(LineKind.MODEL_LOADING) < k.index(LineKind.MODEL_LOADED) < k.index(LineKind.LISTENING)
    listening = lines[k.index(LineKind.LISTENING)]
    assert parse_listen_url(listening).startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("log", "last"),
    [
        ("start_missing_file.stderr.log", "exiting due to model loading error"),
        ("start_port_in_use.stderr.log", "exiting due to HTTP server error"),
        ("start_bad_flag.stderr.log", "error: invalid argument: --no-such-flag"),
    ],
)
def test_recorded_start_failures_end_in_error(log: str, last: str) -> None:
    lines = (FIX / "llama-server" / log).read_text().splitlines()
    assert lines[-1].endswith(last) and classify(lines[-1], 6) == LineKind.ERROR
    assert LineKind.LISTENING not in [classify(line, 6) for line in lines]


def test_classify_odd_cases() -> None:
    assert classify("srv  llama_server: exiting due to model loading error", None) == LineKind.ERROR
    bind = "0.00.001.957 E srv         start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 18081"
    assert classify(bind, 6) == LineKind.ERROR
    assert classify("llama-server.service: Main process exited, code=exited, status=1/FAILURE", 5) == LineKind.ERROR
    assert classify("main: server is listening on 0.0.0.0:30000", None) == LineKind.LISTENING
    assert classify("llama_server: listening on http://127.0.0.1:8080", None) == LineKind.LISTENING
    assert classify("\x1b[32mllama_server: model loaded\x1b[0m", 6) == LineKind.MODEL_LOADED
    assert classify("something ordinary", 4) == LineKind.WARNING
    assert classify("something ordinary", 6) == LineKind.OTHER
    old = "main: server is listening on http://0.0.0.0:8000 - starting the main loop"
    assert parse_listen_url(old) == "http://0.0.0.0:8000"
    assert parse_listen_url("nothing here") is None


def test_print_timing_recorded_lines() -> None:
    prompt = parse_print_timing(
        "0.01.148.570 I slot print_timing: id  3 | task 0 | prompt eval time =      58.78 ms /    27 tokens "
        "(    2.18 ms per token,   459.30 tokens per second)"
    )
    assert prompt is not None
    assert (prompt.phase, prompt.ms, prompt.tokens, prompt.tokens_per_second, prompt.slot, prompt.task) == (
        "prompt",
        58.78,
        27,
        459.30,
        3,
        0,
    )
    gen = parse_print_timing(
        "0.01.148.577 I slot print_timing: id  3 | task 0 |        eval time =     138.30 ms /   256 tokens "
        "(    0.54 ms per token,  1843.80 tokens per second)"
    )
    assert gen is not None and (gen.phase, gen.tokens, gen.tokens_per_second) == ("eval", 256, 1843.80)
    assert (
        parse_print_timing("slot print_timing: id  3 | task 0 |       total time =     197.09 ms /   283 tokens")
        is None
    )
    assert parse_print_timing("slot print_timing: id  3 | task 0 |    graphs reused =        254") is None


def test_print_timing_zero_tokens_inf_rate() -> None:
    t = parse_print_timing(
        "prompt eval time =       0.00 ms /     0 tokens (     nan ms per token,      inf tokens per second)"
    )
    assert t is not None and t.tokens == 0 and t.tokens_per_second == 0.0


def test_every_recorded_timing_line_parses() -> None:
    text = (FIX / "llama-server" / "h100_server.stderr.log").read_text()
    timings = [parse_print_timing(line) for line in text.splitlines() if "eval time" in line]
    assert len(timings) == 8 and all(t is not None for t in timings)
    assert [t.tokens for t in timings if t and t.phase == "eval"] == [256, 256, 256, 3000]


def test_a_long_line_is_null_without_all_and_capped_with_it() -> None:
    """Recorded: without --all journalctl prints a field over 4096 bytes as null (an empty line in the
    pane): journalctl_argv passes --all, and the parser caps what it keeps, saying how much was cut."""
    without = entries("long-line-without-all.jsonl")
    assert [e.message for e in without if e is not None][:2] == ["", ""]
    first, second, binary = (e for e in entries("long-line-with-all.jsonl") if e is not None)
    assert first.message.startswith("LONG xxxx") and first.message.endswith(
        f" … [{49152 - MESSAGE_CAP:,} more characters cut]"
    )
    assert second.message == "x" * MESSAGE_CAP + f" … [{10853 - MESSAGE_CAP:,} more characters cut]"
    assert binary.message == "bin caf\ufffd \ufffd end"
    assert "--all" in journalctl_argv("llama-server", follow=True, after_cursor=None, lines=10)


# recorded: `id` of the real-hosts lab's login, in and out of systemd-journal; Debian root
ID_IN = "uid=1001(llm-agent) gid=1001(llm-agent) groups=1001(llm-agent),999(systemd-journal)\n"
ID_OUT = "uid=1001(llm-agent) gid=1001(llm-agent) groups=1001(llm-agent)\n"
ID_ROOT = "uid=0(root) gid=0(root) groups=0(root)\n"
HINT = (
    "Hint: You are currently not seeing messages from other users and the system.\n"
    "      Users in groups 'adm', 'systemd-journal' can see all messages.\n"
)


def test_parse_id() -> None:
    assert parse_id(ID_IN) == ("llm-agent", False, frozenset({"llm-agent", "systemd-journal"}))
    assert parse_id(ID_ROOT) == ("root", True, frozenset({"root"}))
    assert parse_id("") == (None, False, frozenset())


def test_a_login_outside_the_journal_groups_gets_the_fix() -> None:
    """systemd 252 (the real-hosts lab) prints nothing at all to such a user: no entries, no hint, exit 0."""
    problem = journal_access_problem("", "", ID_OUT)
    assert problem is not None and problem.startswith("llm-agent may not read the system journal")
    assert "add llm-agent to the group systemd-journal (sudo usermod -aG systemd-journal llm-agent" in problem
    assert journal_access_problem("", HINT, ID_OUT) == problem
    assert journal_access_problem("", HINT, ID_IN) == problem  # in the group, but not yet in this login
    assert journal_access_problem("", "", ID_IN) is None  # may read it: the unit has no lines yet
    assert journal_access_problem("", "", ID_ROOT) is None
    assert journal_access_problem('{"MESSAGE": "x"}\n', "", ID_OUT) is None  # lines arrive (an ACL, say)
    assert journal_access_problem("", "", "uid=5(x) gid=5(x) groups=5(x),4(adm)") is None
