"""Server-sent events → frames, pure (no I/O): the one reader of llama-server's event streams.

llama-server writes `data: {json}` followed by a blank line per event — the chunks of
`/v1/chat/completions` (then `data: [DONE]`) and a router's model events on `/models/sse` —
and `:` comment lines as keep-alive pings. Nothing here raises on bad input: a line that is
not an SSE field, data that is not JSON, or a line longer than the cap becomes an ``SseError``
event and parsing goes on with the next line; each reader decides what an error means to it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

MAX_LINE_BYTES = 1024 * 1024  # one chunk of a chat stream is ~300 bytes; readers may set a tighter cap
_FIELDS = ("data", "event", "id", "retry")


@dataclass(frozen=True)
class Frame:
    """One event's data, decoded from JSON; ``event`` is the SSE event name if one was sent."""

    data: Any
    event: str | None = None


@dataclass(frozen=True)
class Done:
    """`data: [DONE]`: the server finished the stream."""


@dataclass(frozen=True)
class SseError:
    """A line or event of the stream that is not what SSE says, in words; it was skipped."""

    message: str
    line: str | None = None


SseEvent = Frame | Done | SseError


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class SseParser:
    """Incremental: ``feed(bytes)`` as they arrive, ``finish()`` at the end of the body."""

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self.max_line = max_line
        self._buffer = b""
        self._skipping = False  # inside an over-long line: drop bytes up to its newline
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        out: list[SseEvent] = []
        self._buffer += chunk
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                break
            raw, self._buffer = self._buffer[:newline], self._buffer[newline + 1 :]
            if self._skipping:
                self._skipping = False
                continue
            out.extend(self._line(raw.rstrip(b"\r")))
        if len(self._buffer) > self.max_line:
            out.append(
                SseError(
                    f"SSE line longer than {self.max_line // 1024} KiB, skipped",
                    _short(self._buffer.decode("utf-8", "replace")),
                )
            )
            self._buffer = b""
            self._skipping = True
        return out

    def finish(self) -> list[SseEvent]:
        """The body ended: a last line or event without its line ends still counts when it is whole
        (`[DONE]`, complete JSON); a cut-off one is an error."""
        out: list[SseEvent] = []
        if self._buffer and not self._skipping:
            out.extend(self._line(self._buffer.rstrip(b"\r")))
        self._buffer, self._skipping = b"", False
        if self._data:  # no blank line after the last event: take it if it is whole
            pending = _short("\n".join(self._data))
            out.extend(
                SseError("the stream ended in the middle of an event", pending) if isinstance(e, SseError) else e
                for e in self._dispatch()
            )
        return out

    def _line(self, raw: bytes) -> list[SseEvent]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return [SseError("SSE line is not UTF-8", _short(raw.decode("utf-8", "replace")))]
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment: llama-server's keep-alive ping
        field, colon, value = line.partition(":")
        if not colon or field not in _FIELDS:
            return [SseError("unexpected line in the event stream", _short(line))]
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        return []  # id / retry: nothing to do for a one-shot request

    def _dispatch(self) -> list[SseEvent]:
        if not self._data:
            self._event = None
            return []
        text, event = "\n".join(self._data), self._event
        self._data, self._event = [], None
        if text.strip() == "[DONE]":
            return [Done()]
        try:
            return [Frame(json.loads(text), event)]
        except ValueError:
            return [SseError("event data is not JSON", _short(text))]


def parse_lines(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Events of a whole stream given as text lines (without line ends), for recorded bodies."""
    parser = SseParser()
    for line in lines:
        yield from parser.feed(line.encode("utf-8") + b"\n")
    yield from parser.finish()


def parse_body(body: bytes) -> list[SseEvent]:
    parser = SseParser()
    return [*parser.feed(body), *parser.finish()]
