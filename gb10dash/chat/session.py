"""One chat turn against a host's llama-server, streamed with httpx; and the per-host history.

``stream_turn`` is an async generator of ``Turn`` snapshots (frozen, safe to hand to the UI):
one when the request starts, one per network read while the answer streams, one at the end.
It never raises for the server's or the network's sake: every failure ends the turn with an
``error`` sentence. Cancelling the task that iterates it closes the response and the
connection, which makes llama-server cancel the generation (`srv stop: cancel task`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

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
)
from gb10dash.collectors.llama import parse_models
from gb10dash.transport.http import http_client, read_capped
from gb10dash.transport.sse import Done, SseError, SseEvent, SseParser

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
CONNECT_S = 5.0
READ_S = 180.0  # between two reads: a long prompt's prefill on a GB10 sends nothing for a while
CHAT_TIMEOUT = httpx.Timeout(READ_S, connect=CONNECT_S, write=10.0, pool=CONNECT_S)
FACTORY_S = 20.0  # opening the SSH port-forward
MAX_ERROR_BODY = 64 * 1024


class HasBaseUrl(Protocol):
    """What a turn needs of its target: the server's URL, read only (a frozen dataclass fits, as does
    a client's attribute; a plain `base_url: str` member would ask for a settable one)."""

    @property
    def base_url(self) -> str: ...


#: what the screen needs to reach a host: HostMonitor.api_client fits (it returns a LlamaClient)
ClientFactory = Callable[[], Awaitable[HasBaseUrl]]


@dataclass(frozen=True)
class _Url:
    base_url: str


def fixed_url(base_url: str) -> ClientFactory:
    """A ClientFactory for a plain URL (no port-forward)."""

    async def factory() -> HasBaseUrl:
        return _Url(base_url.rstrip("/"))

    return factory


@dataclass
class ChatSettings:
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    think: bool | None = None  # None: the template's default
    effort: str | None = None  # None: the template's default; else low / medium / high
    max_tokens: int | None = 2048  # reasoning counts too; the state line says "max tokens reached"
    extra: dict[str, Any] = field(default_factory=dict)  # more request fields (grammar, ignore_eos, …)

    def describe(self) -> tuple[str, ...]:
        out = []
        if self.think is not None:
            out.append(f"think {'on' if self.think else 'off'}")
        if self.effort:
            out.append(f"effort {self.effort}")
        return tuple(out)


@dataclass(frozen=True)
class Turn:
    user: str
    answer: str = ""
    reasoning: str = ""
    model: str | None = None
    options: tuple[str, ...] = ()
    ttft_s: float | None = None
    client_tps: float | None = None
    deltas: int = 0
    timings: ServerTimings | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    notes: tuple[str, ...] = ()  # options the server ignores, skipped malformed lines
    error: str | None = None
    stopped: bool = False
    done: bool = False

    @property
    def streaming(self) -> bool:
        return not self.done

    def stop(self) -> Turn:
        """This turn as it was when the user stopped it."""
        return dataclasses.replace(self, stopped=True, done=True)


@dataclass
class ChatHistory:
    """One host's conversation for this session of the dashboard."""

    host: str
    settings: ChatSettings = field(default_factory=ChatSettings)
    turns: list[Turn] = field(default_factory=list)

    def pairs(self) -> list[tuple[str, str]]:
        """(user, answer) of the earlier turns that got an answer (a stopped one keeps its part)."""
        return [(t.user, t.answer) for t in self.turns if t.answer]

    def last_answer(self) -> str | None:
        return next((t.answer for t in reversed(self.turns) if t.answer), None)

    def clear(self) -> None:
        self.turns.clear()


class ChatHistories:
    """Every host's ChatHistory, created on first use."""

    def __init__(self) -> None:
        self._by_host: dict[str, ChatHistory] = {}

    def get(self, host: str) -> ChatHistory:
        if host not in self._by_host:
            self._by_host[host] = ChatHistory(host)
        return self._by_host[host]

    def __contains__(self, host: object) -> bool:
        return host in self._by_host


class TurnBuilder:
    """Accumulates one turn from stream events and the client's clock (TTFT, deltas per second)."""

    def __init__(self, user: str, options: tuple[str, ...] = (), clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.turn = Turn(user=user, options=options)
        self._answer: list[str] = []
        self._reasoning: list[str] = []
        self._sent_at: float | None = None
        self._first: float | None = None
        self._last: float | None = None
        self._finished_stream = False

    def update(self, **changes: Any) -> None:
        self.turn = dataclasses.replace(self.turn, **changes)

    def note(self, text: str) -> None:
        self.update(notes=(*self.turn.notes, text))

    def fail(self, message: str) -> None:
        self.update(error=message)

    def sent(self) -> None:
        self._sent_at = self.clock()

    @property
    def finished_stream(self) -> bool:
        return self._finished_stream

    def apply(self, event: SseEvent) -> None:
        if isinstance(event, Done):
            self._finished_stream = True
        elif isinstance(event, SseError):
            self._skipped(event.message, event.line)
        else:
            chunk = parse_chunk(event.data)
            if isinstance(chunk, ChatError):
                self._error_event(chunk)
            else:
                self._chunk(chunk)

    def _error_event(self, error: ChatError) -> None:
        if error.server:
            self.fail(error.message)
        else:
            self._skipped(error.message, error.line)

    def _skipped(self, message: str, line: str | None) -> None:
        self.note(f"skipped a malformed stream line: {message}" + (f": {line!r}" if line else ""))

    def _chunk(self, chunk: Chunk) -> None:
        changes: dict[str, Any] = {}
        if chunk.content or chunk.reasoning:
            now = self.clock()
            if self._first is None:
                self._first = now
                if self._sent_at is not None:
                    changes["ttft_s"] = now - self._sent_at
            self._last = now
            self._answer.append(chunk.content)
            self._reasoning.append(chunk.reasoning)
            deltas = self.turn.deltas + 1
            changes.update(deltas=deltas, answer="".join(self._answer), reasoning="".join(self._reasoning))
            if deltas > 1 and now > self._first:
                changes["client_tps"] = (deltas - 1) / (now - self._first)
        if chunk.finish_reason:
            changes["finish_reason"] = chunk.finish_reason
        if chunk.timings:
            changes["timings"] = chunk.timings
        if chunk.usage:
            changes["usage"] = chunk.usage
        if chunk.model and not self.turn.model:
            changes["model"] = chunk.model
        if changes:
            self.update(**changes)

    def finish(self) -> Turn:
        if not self._finished_stream and self.turn.error is None:
            self.fail("the stream ended without [DONE]: the server stopped or restarted mid-answer")
        self.update(done=True)
        return self.turn


# -- the HTTP side ----------------------------------------------------------------------------
class _Failed(Exception):
    pass


def _reason(exc: BaseException, base_url: str) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {base_url}: connection refused or host unreachable"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"cannot connect to {base_url}: no answer within {CONNECT_S:g} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no data from the server for {READ_S:g} s (read timeout)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server closed the connection mid-answer ({exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _get(http: httpx.AsyncClient, path: str) -> str:
    try:
        response = await http.get(path)
    except httpx.HTTPError as exc:
        raise _Failed(_reason(exc, str(http.base_url))) from None
    if response.status_code != 200:
        raise _Failed(f"{path}: {error_message(response.status_code, response.text[:MAX_ERROR_BODY])}")
    return response.text


async def model_id(http: httpx.AsyncClient) -> str:
    """The served model's id from /v1/models (router mode: a loaded one first)."""
    try:
        models = parse_models(await _get(http, "/v1/models"))
    except ValueError as exc:
        raise _Failed(str(exc)) from None
    if not models:
        raise _Failed("/v1/models lists no model")
    loaded = [m for m in models if m.status in (None, "loaded")]
    return (loaded or list(models))[0].id


async def template_features(http: httpx.AsyncClient) -> tuple[TemplateFeatures | None, str | None]:
    try:
        return parse_template_features(await _get(http, "/props")), None
    except (_Failed, ValueError) as exc:
        return None, f"/props: {exc}"


async def stream_turn(
    client_factory: ClientFactory, history: ChatHistory, user: str, *, clock: Callable[[], float] = time.monotonic
) -> AsyncGenerator[Turn, None]:
    """Stream one answer to ``user`` given the history; yields Turn snapshots, the last one done."""
    settings = history.settings
    builder = TurnBuilder(user, settings.describe(), clock)
    yield builder.turn
    try:
        async with asyncio.timeout(FACTORY_S):
            target = await client_factory()
    except Exception as exc:
        builder.fail(f"cannot reach {history.host}'s API: {exc or type(exc).__name__}")
        builder.update(done=True)
        yield builder.turn
        return
    headers = getattr(target, "headers", None)  # the Bearer key, when the target is a LlamaClient
    async with http_client(target.base_url, timeout=CHAT_TIMEOUT, headers=headers) as http:
        try:
            async for turn in _request(http, history, user, builder):
                yield turn
        except _Failed as exc:
            builder.fail(str(exc))
        except httpx.HTTPError as exc:
            builder.fail(_reason(exc, target.base_url))
    yield builder.finish()


async def _request(
    http: httpx.AsyncClient, history: ChatHistory, user: str, builder: TurnBuilder
) -> AsyncIterator[Turn]:
    settings = history.settings
    model = await model_id(http)
    builder.update(model=model)
    if settings.think is not None or settings.effort:
        features, why = await template_features(http)
        for note in template_notes(features, settings.think, settings.effort, why):
            builder.note(note)
    body = build_request(
        model,
        build_messages(settings.system_prompt, history.pairs(), user),
        think=settings.think,
        effort=settings.effort,
        max_tokens=settings.max_tokens,
        extra=settings.extra,
    )
    yield builder.turn
    builder.sent()
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            message = error_message(response.status_code, await read_capped(response, MAX_ERROR_BODY))
            option = rejected_option(message, body)
            raise _Failed(f"the server rejected {option}: {message}" if option else message)
        parser = SseParser()
        async for data in response.aiter_bytes():
            for event in parser.feed(data):
                builder.apply(event)
            yield builder.turn
            if builder.finished_stream or builder.turn.error:
                return
        for event in parser.finish():
            builder.apply(event)
