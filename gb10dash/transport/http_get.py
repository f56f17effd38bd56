"""A small HTTP/1.1 GET client on asyncio streams: a poller's requests to one llama-server over plain http.

Why not httpx here: the dashboard asks every host's /metrics every second, and httpx (httpcore over
anyio: a cancel scope per request, a write per part of it) was ~20 % of the idle dashboard's CPU under
py-spy (issue 22). This client keeps up to `max_idle` connections alive, sends each request in one
write and reads the answer framed by Content-Length, chunked encoding or the connection's close.
Everything else (https, POST, streamed chat and bench answers) stays with httpx (transport/http.py).

Every request is bounded: one timeout over connect, send and the whole answer, a cap on the body and
on the header block. A kept-alive connection the server closed while idle is replaced once, silently.
Failures are HttpGetError subclasses whose message is the reason an operator reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from urllib.parse import urlsplit

#: the header block of an answer must fit in this (asyncio's StreamReader limit)
MAX_HEAD_BYTES = 64 * 1024
_NO_BODY = (204, 304)


class HttpGetError(Exception):
    """A request that got no usable answer; str() is the reason."""


class ConnectFailed(HttpGetError):
    pass


class TimedOut(HttpGetError):
    pass


class ProtocolError(HttpGetError):
    pass


class _Stale(Exception):
    """A kept-alive connection the server closed before answering: try a fresh one."""


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def bearer_headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header of a server started with `--api-key` (none without a key)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    """(version, status, headers with lower-case names) of an answer's status line and header block."""
    text = head.decode("latin-1")
    status_line, *lines = text.split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"not an HTTP/1.x answer: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ProtocolError(f"a malformed header line in the answer: {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return version, int(code), headers


class PlainHttp:
    """GET requests to one `http://host:port[/prefix]` server, over connections kept alive."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        headers: Mapping[str, str] | None = None,
        max_idle: int = 2,
    ):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"{base_url}: PlainHttp speaks plain http://host[:port] only")
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.timeout_s, self.connect_timeout_s, self.max_idle = timeout_s, connect_timeout_s, max_idle
        netloc = parts.netloc.rpartition("@")[2]  # never user:password into a header
        lines = [
            f"Host: {netloc}",
            "Accept: */*",
            "User-Agent: gb10dash",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        self._head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._idle: list[Connection] = []

    async def get(self, path: str, *, max_body: int, timeout_s: float | None = None) -> tuple[int, bytes]:
        """(status, body) of GET prefix+path; ValueError when the body is larger than max_body bytes."""
        request = f"GET {self.prefix}{path} HTTP/1.1\r\n".encode("ascii") + self._head
        try:
            async with asyncio.timeout(self.timeout_s if timeout_s is None else timeout_s):
                while self._idle:
                    try:
                        return await self._exchange(self._idle.pop(), request, path, max_body)
                    except _Stale:
                        continue
                try:
                    return await self._exchange(await self._connect(), request, path, max_body)
                except _Stale:
                    raise ProtocolError("the server closed the connection without answering") from None
        except TimeoutError:
            raise TimedOut("timed out") from None

    async def aclose(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()

    async def _connect(self) -> Connection:
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                return await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD_BYTES)
        except TimeoutError:
            raise TimedOut("timed out connecting") from None
        except OSError as exc:
            raise ConnectFailed("connection refused or host unreachable") from exc

    async def _exchange(self, connection: Connection, request: bytes, path: str, max_body: int) -> tuple[int, bytes]:
        reader, writer = connection
        keep = False
        try:
            try:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise ProtocolError("the server closed the connection in the middle of the headers") from None
                raise _Stale from None
            except asyncio.LimitOverrunError:
                raise ProtocolError(f"the answer's headers are larger than {MAX_HEAD_BYTES // 1024} KiB") from None
            version, status, headers = parse_head(head)
            body, keep = await _read_body(reader, version, status, headers, path, max_body)
            return status, body
        except OSError as exc:  # a reset or a broken pipe once the answer had begun
            raise ProtocolError(f"the connection failed mid-answer: {exc}") from None
        finally:
            if keep and len(self._idle) < self.max_idle:
                self._idle.append(connection)
            else:
                writer.close()


async def _read_body(
    reader: asyncio.StreamReader, version: str, status: int, headers: Mapping[str, str], path: str, max_body: int
) -> tuple[bytes, bool]:
    """The body, and whether the connection may carry the next request."""
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if status in _NO_BODY or 100 <= status < 200:
        return b"", keep
    too_big = f"{path}: body larger than {max_body // 1024} KiB"
    try:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return await _read_chunked(reader, too_big, max_body), keep
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"a bad Content-Length: {headers['content-length'][:40]!r}") from None
            if length > max_body:
                raise ValueError(too_big)
            return await reader.readexactly(length), keep
        body = await reader.read(max_body + 1)  # framed by the close: to the end
        while len(body) <= max_body and (more := await reader.read(max_body + 1 - len(body))):
            body += more
        if len(body) > max_body:
            raise ValueError(too_big)
        return body, False
    except asyncio.IncompleteReadError as exc:
        expected = f" of {exc.expected}" if exc.expected is not None else ""
        raise ProtocolError(
            f"the server closed the connection mid-answer ({len(exc.partial)}{expected} bytes)"
        ) from None


async def _read_chunked(reader: asyncio.StreamReader, too_big: str, max_body: int) -> bytes:
    body = bytearray()
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"a bad chunk size line: {line[:40]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, to the empty line
                pass
            return bytes(body)
        if len(body) + size > max_body:
            raise ValueError(too_big)
        body += (await reader.readexactly(size + 2))[:size]
