"""transport/http_get.py, the pollers' keep-alive GET client (issue 22): against the lab's real
llama-server (one connection for many polls, a restarted server reached again without an error), and against a scripted HTTP server on 127.0.0.1 for the framings and failures a
llama-server (or a proxy in front of one) can send: chunked, close-framed, a refused keep-alive,
a bad status line, headers past the cap, a chunked body past the body cap."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.lab import Lab
from gb10dash.transport.http_get import MAX_HEAD_BYTES, ConnectFailed, PlainHttp, ProtocolError, TimedOut

from . import labctl
from .faultctl import CountingProxy


async def test_polls_share_one_connection(lab: Lab) -> None:
    url = labctl.config(lab).host("stella").api_url
    async with CountingProxy(url) as proxy:
        client = LlamaClient(proxy.url)
        try:
            for _ in range(20):
                metrics = await client.metrics()
                assert metrics is not None and metrics.tokens_predicted_total is not None
            assert (await client.health()).state.value == "ok"
        finally:
            await client.aclose()
    assert proxy.paths["/metrics"] == 20 and proxy.paths["/health"] == 1
    assert proxy.connections == 1  # httpx's pool kept 2; this client reuses the one it has


async def test_a_restarted_server_is_reached_again_without_an_error(lab: Lab) -> None:
    url = labctl.config(lab).host("stella").api_url
    client = LlamaClient(url)
    try:
        assert await client.metrics() is not None  # a connection kept alive
        assert labctl.shim(lab, "stella", "systemctl", "restart", "llama-server").returncode == 0
        lab.wait_ready(60)
        assert await client.metrics() is not None  # the kept connection is stale: a new one, no error
    finally:
        await client.aclose()


# -- a scripted server: each connection answers the requests it reads with the next canned answers ----


@asynccontextmanager
async def scripted(*answers: bytes, close_after: bool = False) -> AsyncIterator[tuple[str, list[int]]]:
    """An HTTP server on 127.0.0.1 that sends `answers` in order, one per request line it reads, on
    whichever connection asks; yields its URL and a list counting requests per connection."""
    queue = list(answers)
    per_connection: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        per_connection.append(0)
        index = len(per_connection) - 1
        try:
            while queue:
                head = await reader.readuntil(b"\r\n\r\n")
                assert head.startswith(b"GET ")
                per_connection[index] += 1
                writer.write(queue.pop(0))
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", per_connection
    finally:
        server.close()


def client(url: str, timeout_s: float = 2.0) -> PlainHttp:
    return PlainHttp(url, timeout_s=timeout_s, connect_timeout_s=1.0)


async def answers_of(*answers: bytes) -> tuple[list[tuple[int, bytes]], list[int]]:
    """What one client gets for as many GETs as there are scripted answers, and the requests each of
    the server's connections carried (the server would take more on every one of them)."""
    async with scripted(*answers) as (url, connections):
        http = client(url)
        try:
            got = [await http.get(f"/{n}", max_body=100) for n in range(len(answers))]
        finally:
            await http.aclose()
    return got, connections


async def test_content_length_and_chunked_answers_on_one_connection() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    sized = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert await answers_of(sized, chunked, sized) == ([(200, b"ok"), (200, b"hello world"), (200, b"ok")], [3])


async def test_an_answer_framed_by_the_close() -> None:
    async with scripted(b"HTTP/1.1 200 OK\r\n\r\nall of it", close_after=True) as (url, connections):
        http = client(url)
        assert await http.get("/", max_body=100) == (200, b"all of it")
        await http.aclose()
    assert connections == [1]


async def test_connection_close_and_http_1_0_are_not_kept() -> None:
    refused = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy"
    old = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
    got, connections = await answers_of(refused, old, refused)
    assert got == [(503, b"busy"), (200, b"ok"), (503, b"busy")] and connections == [1, 1, 1]


async def test_a_kept_connection_the_server_closed_is_replaced_silently() -> None:
    sized = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    async with scripted(sized, sized, close_after=True) as (url, connections):
        http = client(url)
        try:
            assert await http.get("/", max_body=100) == (200, b"ok")  # kept: HTTP/1.1, no Connection: close
            await asyncio.sleep(0.1)  # the server has closed it meanwhile
            assert await http.get("/", max_body=100) == (200, b"ok")
        finally:
            await http.aclose()
    assert connections == [1, 1]


@pytest.mark.parametrize(
    "answer, words",
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x answer"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed the connection mid-answer (5 of 100 bytes)"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n", "headers are larger than 64 KiB"),
    ],
)
async def test_a_bad_answer_is_a_worded_protocol_error(answer: bytes, words: str) -> None:
    async with scripted(answer, close_after=True) as (url, _):
        http = client(url)
        with pytest.raises(ProtocolError, match=words.replace("(", r"\(").replace(")", r"\)")):
            await http.get("/", max_body=1000)
        await http.aclose()


async def test_bodies_past_the_cap_are_refused_framed_either_way() -> None:
    sized = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"  # refused on its header, body never read
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"  # 1 KiB a chunk: the second passes 1,500 bytes
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n"
    for answer in (sized, chunked):
        async with scripted(answer, close_after=True) as (url, _):
            http = client(url)
            with pytest.raises(ValueError, match="/metrics: body larger than 1 KiB"):
                await http.get("/metrics", max_body=1500)
            await http.aclose()


async def test_nobody_listening_and_nobody_answering() -> None:
    listener = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()
    with pytest.raises(ConnectFailed, match="^connection refused or host unreachable$"):
        await client(f"http://127.0.0.1:{port}").get("/health", max_body=100)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        started = time.monotonic()
        with pytest.raises(TimedOut, match="^timed out$"):
            await client(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}").get("/", max_body=1, timeout_s=0.5)
        assert time.monotonic() - started < 1.5
    finally:
        server.close()


def test_only_plain_http_and_no_credentials_in_the_host_header() -> None:
    with pytest.raises(ValueError, match="plain http"):
        client("https://spark:8443")
    http = PlainHttp("http://user:secret@spark:8000/llama/", timeout_s=1, connect_timeout_s=1, headers={"X-A": "b"})
    assert http.prefix == "/llama" and http.port == 8000
    assert b"Host: spark:8000\r\n" in http._head and b"secret" not in http._head and b"X-A: b\r\n" in http._head
