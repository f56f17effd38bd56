"""Bad input to every parser: recorded-style malformed outputs (tests/fixtures/bad/) and hypothesis
fuzz. A parser returns a value or raises ValueError with words an operator can read; nothing else
escapes, and no partial result is returned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gb10dash.collectors import gpu, journal, llama, systemd
from gb10dash.collectors.llama import HealthState
from gb10dash.transport.sse import Done, Frame, SseError, SseParser, parse_body

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
FUZZ = settings(max_examples=200, deadline=None)
lines = st.lists(
    st.one_of(
        st.text(max_size=60),
        st.sampled_from(
            [
                "ActiveState=active",
                "SubState=",
                "MainPID=x",
                'ExecStart={ path=/bin/x ; argv[]=/bin/x "a ; }',
                "NRestarts=-1",
                "[N/A]",
                "llamacpp:requests_processing 1",
                "data: {",
                "data: [DONE]",
                "",
                "\x00",
                'Field "x" is not a valid field to query.',
            ]
        ),
    ),
    max_size=12,
).map("\n".join)


def only_value_errors(parse, text):
    try:
        return parse(text)
    except ValueError as exc:
        assert str(exc).strip(), "an error without words"
        return exc


# -- systemctl show ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["systemctl-show-truncated.txt", "systemctl-show-denied.txt"])
def test_malformed_systemctl_show_is_a_worded_error(name: str) -> None:
    with pytest.raises(ValueError, match="no ActiveState= line"):
        systemd.parse_systemctl_show((BAD / name).read_text())


@FUZZ
@given(lines)
def test_systemctl_show_fuzz(text: str) -> None:
    result = only_value_errors(systemd.parse_systemctl_show, text)
    if not isinstance(result, ValueError):
        assert result.active_state == result.raw["ActiveState"].strip()


# -- journal -----------------------------------------------------------------------------------
def test_non_utf8_journal_message_is_decoded_with_replacement() -> None:
    entry = journal.parse_journal_line((BAD / "journal-non-utf8.jsonl").read_text())
    assert entry is not None and entry.message.startswith("bad \ufffd\ufffd utf-8 \ufffd(")


def test_a_1_mb_journal_line_is_capped_saying_how_much_was_cut() -> None:
    message = "x" * (1024 * 1024)
    line = json.dumps({"__CURSOR": "s=1;i=2", "MESSAGE": message, "PRIORITY": "6"})
    entry = journal.parse_journal_line(line)
    cut = 1024 * 1024 - journal.MESSAGE_CAP
    assert entry is not None and entry.cursor == "s=1;i=2"
    assert entry.message == "x" * journal.MESSAGE_CAP + f" … [{cut:,} more characters cut]"
    as_bytes = json.dumps({"__CURSOR": "s=1;i=3", "MESSAGE": list(b"\xff" * 1024 * 1024)})
    entry = journal.parse_journal_line(as_bytes)
    assert entry is not None and entry.message.startswith("\ufffd" * journal.MESSAGE_CAP + " … [")
    assert (
        journal.parse_journal_line(json.dumps({"MESSAGE": "y" * journal.MESSAGE_CAP})).message
        == "y" * journal.MESSAGE_CAP
    )  # at the cap: whole


@pytest.mark.parametrize(
    "line",
    ['{"PRIORITY": Infinity}', '{"_PID": -Infinity, "MESSAGE": "x"}', '{"__REALTIME_TIMESTAMP": NaN, "MESSAGE": "x"}'],
)
def test_journal_numbers_json_cannot_hold_in_an_int_are_dropped(line: str) -> None:
    """Python's json reads Infinity/NaN (found by the fuzz test below): such a field is unknown, not a crash."""
    entry = journal.parse_journal_line(line)
    assert entry is None or (entry.priority is None and entry.pid is None and entry.realtime_us is None)


@FUZZ
@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(
            st.sampled_from(["__CURSOR", "MESSAGE", "PRIORITY", "_PID", "__REALTIME_TIMESTAMP", "_SYSTEMD_UNIT"]),
            st.one_of(
                st.none(),
                st.integers(),
                st.floats(),
                st.text(max_size=20),
                st.lists(st.integers(-300, 300), max_size=20),
                st.dictionaries(st.text(max_size=3), st.integers()),
            ),
        ).map(json.dumps),
    )
)
def test_journal_line_fuzz_never_raises(line: str) -> None:
    entry = journal.parse_journal_line(line)
    assert entry is None or isinstance(entry.message, str)


# -- nvidia-smi --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["nvidia-smi-extra-column.csv", "nvidia-smi-short-row.csv"])
def test_malformed_nvidia_smi_csv_names_the_columns(name: str) -> None:
    with pytest.raises(ValueError, match=r"columns, expected \d+"):
        gpu.parse_gpu_csv((BAD / name).read_text())


@FUZZ
@given(lines)
def test_nvidia_smi_fuzz(text: str) -> None:
    only_value_errors(gpu.parse_gpu_csv, text)
    only_value_errors(lambda t: gpu.parse_gpu_csv(t, fields=None), text)
    only_value_errors(gpu.parse_compute_apps, text)


@FUZZ
@given(
    st.lists(
        st.sampled_from(["[N/A]", "[Not Supported]", "N/A", "", " ", "12.1", "0x1", "-5", "1e309"]),
        min_size=len(gpu.GPU_QUERY_FIELDS),
        max_size=len(gpu.GPU_QUERY_FIELDS),
    )
)
def test_nvidia_smi_cells_of_any_kind(cells: list[str]) -> None:
    result = only_value_errors(gpu.parse_gpu_csv_line, ", ".join(cells))
    if not isinstance(result, ValueError):  # [N/A] is None, never 0
        for fieldname, cell in zip(gpu.GPU_QUERY_FIELDS, cells):
            attr = gpu._GPU_ATTR.get(fieldname)
            if attr and cell.strip().startswith("["):
                assert getattr(result, attr) is None


# -- llama-server bodies -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["metrics-html.txt", "metrics-bad-values.txt"])
def test_malformed_metrics_is_a_worded_error(name: str) -> None:
    with pytest.raises(ValueError, match="expected Prometheus"):
        llama.parse_metrics((BAD / name).read_text())


@FUZZ
@given(
    st.one_of(
        lines,
        st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")),
        st.recursive(
            st.one_of(st.none(), st.integers(), st.text(max_size=10), st.booleans()),
            lambda i: st.one_of(
                st.lists(i, max_size=3),
                st.dictionaries(
                    st.sampled_from(
                        [
                            "data",
                            "error",
                            "status",
                            "id",
                            "meta",
                            "slots",
                            "n_ctx",
                            "default_generation_settings",
                            "models",
                            "next_token",
                        ]
                    ),
                    i,
                    max_size=4,
                ),
            ),
            max_leaves=8,
        ).map(json.dumps),
    )
)
def test_llama_bodies_fuzz(body: str) -> None:
    for parse in (llama.parse_models, llama.parse_props, llama.parse_slots, llama.parse_metrics):
        only_value_errors(parse, body)
    for status in (200, 503, 500):
        assert llama.parse_health(status, body).state in HealthState


# -- SSE (chat) --------------------------------------------------------------------------------
def test_malformed_sse_chunks_become_errors_and_parsing_goes_on() -> None:
    events = parse_body((BAD / "sse-malformed.body").read_bytes())
    assert isinstance(events[0], Frame) and events[0].data["choices"][0]["delta"]["content"] == "hi"
    assert [type(e) for e in events[1:]] == [SseError, SseError, Done]
    assert "not JSON" in events[1].message and "unexpected line" in events[2].message


@FUZZ
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_sse_fuzz_any_chunking_gives_the_same_events(body: bytes, cuts: list[int]) -> None:
    whole = parse_body(body)
    parser, pieces, start = SseParser(), [], 0
    for cut in sorted(c for c in cuts if c <= len(body)) + [len(body)]:
        pieces += parser.feed(body[start:cut])
        start = cut
    pieces += parser.finish()
    assert pieces == whole
    assert all(isinstance(e, Frame | Done | SseError) for e in whole)


def test_an_over_long_sse_line_is_skipped_not_buffered() -> None:
    parser = SseParser(max_line=1024)
    events = parser.feed(b"data: " + b"x" * 5000)
    events += parser.feed(b"y" * 5000 + b"\n\ndata: [DONE]\n\n")
    assert [type(e) for e in events] == [SseError, Done] and len(parser._buffer) == 0
