"""The SSE reader on recorded llama-server chat streams, split every way, and on broken input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from gb10dash.transport.sse import Done, Frame, SseError, SseParser, parse_body, parse_lines

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "chat"


def body(name: str) -> bytes:
    return (FIX / name).read_bytes()


def frames(events: list) -> list[Frame]:
    return [e for e in events if isinstance(e, Frame)]


def errors(events: list) -> list[SseError]:
    return [e for e in events if isinstance(e, SseError)]


def test_recorded_stream_gives_its_chunks_then_done() -> None:
    events = parse_body(body("chat_stream.body"))
    assert not errors(events)
    assert isinstance(events[-1], Done) and sum(isinstance(e, Done) for e in events) == 1
    chunks = frames(events)
    assert len(chunks) == 18  # role, 16 tokens, finish
    assert chunks[0].data["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert chunks[-1].data["choices"][0]["finish_reason"] == "length"
    assert chunks[-1].data["timings"]["predicted_n"] == 16


@pytest.mark.parametrize("name", ["chat_stream_usage.body", "reasoning_stream_usage.body"])
def test_any_split_of_the_bytes_gives_the_same_events(name: str) -> None:
    whole = parse_body(body(name))
    data = body(name)
    rng = random.Random(6)
    for _ in range(20):
        parser, got, at = SseParser(), [], 0
        while at < len(data):
            step = rng.randint(1, 40)
            got += parser.feed(data[at : at + step])
            at += step
        got += parser.finish()
        assert got == whole


def test_byte_by_byte_through_a_multibyte_character() -> None:
    data = 'data: {"choices":[{"delta":{"content":"héllo ✓ 🙂"}}]}\n\ndata: [DONE]\n\n'.encode()
    parser = SseParser()
    events = [e for i in range(len(data)) for e in parser.feed(data[i : i + 1])] + parser.finish()
    assert events == [Frame({"choices": [{"delta": {"content": "héllo ✓ 🙂"}}]}), Done()]


def test_crlf_line_ends_and_multi_line_data() -> None:
    data = b'data: {"a":\r\ndata: 1}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert parse_body(data) == [Frame({"a": 1}), Done()]


def test_pings_are_skipped_and_a_cut_stream_has_no_done() -> None:
    data = body("sigterm_midstream.body")
    assert b"\n:\n" in data  # the recording has keep-alive comments
    events = parse_body(data)
    assert not errors(events)
    assert not any(isinstance(e, Done) for e in events)
    assert len(frames(events)) > 100


def test_event_name_and_id_fields() -> None:
    data = b'event: error\nid: 7\nretry: 10\ndata: {"error":{"code":500,"message":"boom"}}\n\n'
    assert parse_body(data) == [Frame({"error": {"code": 500, "message": "boom"}}, "error")]


def test_malformed_lines_are_errors_and_parsing_goes_on() -> None:
    lines = [
        'data: {"choices":[{"delta":{"content":"a"}}]}',
        "",
        "garbage without a colon",
        "bogus: field",
        "",
        "data: {not json",
        "",
        'data: {"choices":[{"delta":{"content":"b"}}]}',
        "",
        "data: [DONE]",
        "",
    ]
    events = list(parse_lines(lines))
    assert [e.data["choices"][0]["delta"]["content"] for e in frames(events)] == ["a", "b"]
    messages = [e.message for e in errors(events)]
    assert messages == [
        "unexpected line in the event stream",
        "unexpected line in the event stream",
        "event data is not JSON",
    ]
    assert errors(events)[0].line == "garbage without a colon"
    assert isinstance(events[-1], Done)


def test_invalid_utf8_line_is_an_error() -> None:
    events = parse_body(b"data: \xff\xfe\n\ndata: [DONE]\n\n")
    assert [type(e) for e in events] == [SseError, Done]
    assert "UTF-8" in events[0].message


def test_over_long_line_is_skipped_with_an_error() -> None:
    parser = SseParser(max_line=1024)
    events = parser.feed(b"data: " + b"x" * 3000)
    events += parser.feed(b"x" * 3000 + b"\n\n")
    events += parser.feed(b'data: {"ok":true}\n\n') + parser.finish()
    assert [type(e) for e in events] == [SseError, Frame]
    assert "longer than 1 KiB" in events[0].message


def test_body_ending_mid_event_is_an_error() -> None:
    events = parse_body(b'data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choi')
    assert [type(e) for e in events] == [Frame, SseError]
    assert events[1].message == "the stream ended in the middle of an event"


def test_a_whole_last_event_without_line_ends_still_counts() -> None:
    assert parse_body(b"data: [DONE]") == [Done()]
    assert parse_body(b"data: [DONE]\n") == [Done()]
    assert parse_body(b'data: {"a": 1}') == [Frame({"a": 1})]
    assert parse_body(b'data: {"a": 1') == [SseError("the stream ended in the middle of an event", '{"a": 1')]


def test_random_bytes_never_raise() -> None:
    rng = random.Random(42)
    pieces = [b"data: ", b"{", b"}", b"\n", b"\r", b":", b"[DONE]", b"\xff", b"event: x", b'"', b" "]
    for _ in range(300):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        parser = SseParser(max_line=16)
        events = parser.feed(data) + parser.finish()
        assert all(isinstance(e, (Frame, Done, SseError)) for e in events)
