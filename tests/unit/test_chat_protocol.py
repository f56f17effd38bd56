"""The chat protocol on recorded llama-server bodies: requests, chunks, /props, error bodies; and a
turn accounted from a recorded stream with a fixed clock (TTFT, client tok/s, server timings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gb10dash.chat.protocol import (
    ChatError,
    Chunk,
    ServerTimings,
    TemplateFeatures,
    Usage,
    build_messages,
    build_request,
    error_message,
    parse_chunk,
    parse_template_features,
    rejected_option,
    template_notes,
    think_value,
)
from gb10dash.chat.render import client_figures, printable, server_figures, state_text
from gb10dash.chat.session import ChatHistory, Turn, TurnBuilder
from gb10dash.transport.sse import Frame, parse_body

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def chat(name: str) -> str:
    return (FIX / "chat" / name).read_text()


def chunks(name: str) -> list[Chunk | ChatError]:
    return [parse_chunk(e.data) for e in parse_body((FIX / "chat" / name).read_bytes()) if isinstance(e, Frame)]


# -- requests -------------------------------------------------------------------------------
def test_messages_carry_system_prompt_and_history() -> None:
    assert build_messages("Be brief.", [("hi", "hello"), ("and?", "done")], "again") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and?"},
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "again"},
    ]
    assert build_messages("  ", [], "hi") == [{"role": "user", "content": "hi"}]


def test_request_streams_with_usage_and_leaves_defaults_alone() -> None:
    body = build_request("m.gguf", [{"role": "user", "content": "hi"}], max_tokens=64)
    assert body == {
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "model": "m.gguf",
        "max_tokens": 64,
    }
    assert "chat_template_kwargs" not in body and "reasoning_effort" not in body


def test_think_switch_is_a_json_boolean() -> None:
    body = build_request(None, [], think=False)
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert json.dumps(body["chat_template_kwargs"]) == '{"enable_thinking": false}'  # a string is a 400
    assert build_request(None, [], think=True)["chat_template_kwargs"] == {"enable_thinking": True}
    assert [think_value(c) for c in ("default", "on", "off")] == [None, True, False]


def test_effort_goes_top_level_and_into_the_template_kwargs() -> None:
    body = build_request(None, [], think=True, effort="high")
    assert body["reasoning_effort"] == "high"
    assert body["chat_template_kwargs"] == {"enable_thinking": True, "reasoning_effort": "high"}
    with pytest.raises(ValueError, match="low, medium, high"):
        build_request(None, [], effort="extreme")


def test_extra_fields_merge_last() -> None:
    body = build_request(
        None,
        [],
        think=False,
        max_tokens=10,
        extra={"max_tokens": 99, "grammar": 'root ::= "x"', "chat_template_kwargs": {"custom": 1}},
    )
    assert body["max_tokens"] == 99 and body["grammar"] == 'root ::= "x"'
    assert body["chat_template_kwargs"] == {"enable_thinking": False, "custom": 1}


# -- chunks ---------------------------------------------------------------------------------
def test_recorded_stream_chunks() -> None:
    parsed = chunks("chat_stream.body")
    tiny = "/srv/lab/models/tiny.gguf"
    assert parsed[0] == Chunk(model=tiny)  # role only, content null
    assert parsed[1] == Chunk(content="m", model=tiny)
    assert "".join(c.content for c in parsed if isinstance(c, Chunk)) == "merkbHLPerriQJv heg"
    last = parsed[-1]
    assert isinstance(last, Chunk) and last.finish_reason == "length" and last.usage is None
    assert last.timings == ServerTimings(
        prompt_n=1,
        prompt_per_second=3401.360544217687,
        predicted_n=16,
        predicted_per_second=2671.8916993231205,
        prompt_ms=0.294,
        predicted_ms=5.614,
        cache_n=49,
    )


def test_include_usage_puts_usage_and_timings_in_an_extra_chunk() -> None:
    parsed = chunks("chat_stream_usage.body")
    finish, extra = parsed[-2], parsed[-1]
    assert isinstance(finish, Chunk) and finish.finish_reason == "length" and finish.timings is None
    assert isinstance(extra, Chunk) and extra.content == "" and extra.finish_reason is None
    assert extra.usage == Usage(prompt_tokens=50, completion_tokens=16, cached_tokens=49)
    assert extra.timings is not None and extra.timings.predicted_n == 16


def test_reasoning_content_is_kept_apart_from_the_answer() -> None:
    parsed = [c for c in chunks("reasoning_stream_usage.body") if isinstance(c, Chunk)]
    reasoning = "".join(c.reasoning for c in parsed)
    answer = "".join(c.content for c in parsed)
    assert reasoning == "enwgereeo tn"
    assert answer == "uwectd"
    assert "<think>" not in reasoning + answer
    first_answer = next(i for i, c in enumerate(parsed) if c.content)
    assert all(not c.content for c in parsed[:first_answer]) and not any(c.reasoning for c in parsed[first_answer:])


@pytest.mark.parametrize(
    "data, message",
    [
        ({"error": {"code": 500, "message": "boom", "type": "server_error"}}, "server error (500 server_error): boom"),
        (["not", "an", "object"], "unexpected chunk (not a JSON object)"),
        ({"object": "chat.completion.chunk"}, "unexpected chunk (no choices list)"),
        ({"choices": ["x"]}, "unexpected chunk (a choice is not an object)"),
    ],
)
def test_odd_chunks_are_errors(data: object, message: str) -> None:
    got = parse_chunk(data)
    assert isinstance(got, ChatError) and got.message == message
    assert got.server == (isinstance(data, dict) and "error" in data)


def test_odd_field_types_are_ignored_not_fatal() -> None:
    got = parse_chunk(
        {
            "choices": [{"delta": {"content": 5, "reasoning_content": None}, "finish_reason": 1}],
            "timings": {"predicted_n": "many", "predicted_per_second": True},
            "usage": [],
        }
    )
    assert got == Chunk(timings=ServerTimings(None, None, None, None))


# -- /props ---------------------------------------------------------------------------------
def test_template_features_from_recorded_props() -> None:
    assert parse_template_features(chat("props_chatml.json")) == TemplateFeatures(False, False)
    assert parse_template_features(chat("props_think_template.json")) == TemplateFeatures(True, True)


def test_template_features_without_caps_search_the_template() -> None:
    old = {"chat_template": "{% if reasoning_effort %}…{% endif %}{{ enable_thinking }}"}
    assert parse_template_features(json.dumps(old)) == TemplateFeatures(True, True)
    caps_say_no = dict(old, chat_template_caps={"supports_reasoning_effort": False})
    assert parse_template_features(json.dumps(caps_say_no)) == TemplateFeatures(True, False)
    with pytest.raises(ValueError):
        parse_template_features("[]")


def test_notes_for_switches_the_template_ignores() -> None:
    none, both = TemplateFeatures(False, False), TemplateFeatures(True, True)
    assert template_notes(none, None, None) == []
    assert template_notes(both, False, "high") == []
    notes = template_notes(none, False, "low")
    assert notes[0].startswith("think off: not supported") and "enable_thinking" in notes[0]
    assert notes[1].startswith("reasoning effort low: not supported")
    assert template_notes(None, True, None, "/props: HTTP 404") == [
        "could not check whether the model's chat template reads think on/off (/props: HTTP 404)"
    ]


# -- error bodies ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, name, message",
    [
        (
            503,
            "chat_loading_503.body",
            "the server is still loading the model (503 Loading model); try again in a moment",
        ),
        (
            400,
            "exceed_context_400.body",
            "the conversation is too long for the context (9,918 tokens > 4,096 of context); "
            "shorten it or clear the history",
        ),
        (500, "reasoning_bogus_500.body", "server error (500 server_error): Unknown reasoning format: bogus"),
        (400, "router_unknown_model_400.body", "request rejected (400 invalid_request_error): model 'nope' not found"),
        (
            400,
            "enable_thinking_string_400.body",
            "request rejected (400 invalid_request_error): invalid type for "
            '"enable_thinking" (expected boolean, got string)',
        ),
    ],
)
def test_recorded_error_bodies(status: int, name: str, message: str) -> None:
    assert error_message(status, chat(name)) == message


def test_bodies_that_are_not_llama_server_json() -> None:
    proxy = (FIX / "llama-server" / "proxy_502.body").read_text()
    assert error_message(502, proxy) == "HTTP 502: <html><body><h1>502 Bad Gateway</h1></body></html>"
    assert error_message(500, "") == "HTTP 500 (empty body)"
    assert error_message(404, '{"detail": "nope"}') == "HTTP 404: unexpected error body"
    assert error_message(500, '{"error": "plain"}') == "server error (500): plain"


def test_rejected_option_names_what_we_sent() -> None:
    thinking = error_message(400, chat("enable_thinking_string_400.body"))
    assert (
        rejected_option(thinking, build_request(None, [], extra={"chat_template_kwargs": {"enable_thinking": "x"}}))
        == "enable_thinking"
    )
    bogus = error_message(500, chat("reasoning_bogus_500.body"))
    assert rejected_option(bogus, {"reasoning_format": "bogus"}) == "reasoning_format"
    assert rejected_option(bogus, {"messages": []}) is None
    assert rejected_option(error_message(400, chat("bad_json_400.body")), {"reasoning_effort": "low"}) is None


# -- a turn from a recorded stream, on a fixed clock --------------------------------------------
class Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 100.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def replay(name: str, clock: Clock, extra: bytes = b"") -> Turn:
    builder = TurnBuilder("hi", ("think on",), clock)
    builder.sent()
    for event in parse_body(
        (FIX / "chat" / name).read_bytes().replace(b"\n\ndata: [DONE]", extra + b"\n\ndata: [DONE]")
    ):
        builder.apply(event)
    return builder.finish()


def test_turn_from_a_recorded_stream() -> None:
    turn = replay("chat_stream_usage.body", Clock(0.01))
    assert turn.done and turn.error is None and turn.notes == ()
    assert turn.deltas == 16 and turn.finish_reason == "length"
    assert turn.ttft_s == pytest.approx(0.01)  # sent at 100.01, first token read at 100.02
    assert turn.client_tps == pytest.approx(15 / 0.15)  # 15 more deltas in 15 clock steps
    assert turn.usage == Usage(50, 16, 49) and turn.timings and turn.timings.predicted_n == 16
    assert turn.model == "/srv/lab/models/tiny.gguf" and turn.options == ("think on",)


def test_turn_with_reasoning() -> None:
    turn = replay("reasoning_stream_usage.body", Clock(0.001))
    assert (turn.reasoning, turn.answer) == ("enwgereeo tn", "uwectd")
    assert turn.timings and turn.timings.predicted_n == 30 and turn.usage and turn.usage.completion_tokens == 30


def test_malformed_line_mid_stream_is_a_note_and_the_answer_completes() -> None:
    clean = replay("chat_stream_usage.body", Clock(0.01))
    turn = replay("chat_stream_usage.body", Clock(0.01), extra=b"\n\nnonsense line\n\ndata: {broken")
    assert turn.answer == clean.answer and turn.error is None
    assert turn.notes == (
        "skipped a malformed stream line: unexpected line in the event stream: 'nonsense line'",
        "skipped a malformed stream line: event data is not JSON: '{broken'",
    )


def test_stream_cut_without_done_fails_but_keeps_the_text() -> None:
    builder = TurnBuilder("hi", clock=Clock(0.01))
    for event in parse_body((FIX / "chat" / "sigterm_midstream.body").read_bytes()):
        builder.apply(event)
    turn = builder.finish()
    assert turn.error == "the stream ended without [DONE]: the server stopped or restarted mid-answer"
    assert len(turn.answer) > 100 and turn.ttft_s is None  # sent() was never called


def test_server_error_chunk_fails_the_turn() -> None:
    builder = TurnBuilder("hi")
    builder.apply(Frame({"error": {"code": 400, "message": "bad", "type": "invalid_request_error"}}))
    assert builder.finish().error == "request rejected (400 invalid_request_error): bad"


# -- history and the text of the figures --------------------------------------------------------
def test_history_sends_answers_back_but_not_failures() -> None:
    history = ChatHistory("pegasus")
    history.turns += [
        Turn("a", answer="A", done=True),
        Turn("b", error="down", done=True),
        Turn("c", answer="par", stopped=True, done=True),
    ]
    assert history.pairs() == [("a", "A"), ("c", "par")]
    assert history.last_answer() == "par"
    history.clear()
    assert history.last_answer() is None


def test_figures_side_by_side_text() -> None:
    turn = replay("chat_stream_usage.body", Clock(0.01))
    assert client_figures(turn) == "client  TTFT 10 ms · 100 tok/s · 16 deltas"
    assert server_figures(turn) == "server  prompt 1 tok @ 3,436.4 tok/s · gen 16 tok @ 11,655 tok/s"
    assert state_text(turn) == "max tokens reached · think on"
    assert server_figures(Turn("x")) == "server  waiting for the last chunk"
    assert state_text(Turn("x")) == "connecting…"
    assert state_text(Turn("x", model="m", deltas=3)) == "streaming…"
    assert state_text(Turn("x", model="m", error="down", done=True)) == "failed"
    stopped = Turn("x", deltas=2, stopped=True, done=True)
    assert state_text(stopped) == "stopped by you (request closed)"
    assert server_figures(stopped) == "server  no timings (stopped before the last chunk)"


def test_printable_shows_control_characters_as_pictures() -> None:
    assert printable("a\x00b\x1b[31m\tc\nd\x7f\r") == "a␀b␛[31m\tc\nd␡␍"
