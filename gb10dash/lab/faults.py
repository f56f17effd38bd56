"""Fault injection for tests: a misbehaving HTTP server and a mount whose `stat` never returns.

``FaultServer`` listens on 127.0.0.1 and answers every request the way its current ``mode`` says
(garbage bytes, truncated JSON, an HTML error page, a 10 MB body, a 503 "Loading model" like a
llama-server that is still loading, a healthy /health, nothing at all, or — "wedged" — a healthy
/health while every other request hangs, the state the wedge canary is for). Point a HostConfig's
``api_url`` at ``server.url``.

``HungMount`` mounts a FUSE filesystem whose daemon never answers (the kernel's INIT request is
never read): every `stat` of the mount point blocks in D state, exactly like a hard NFS mount
whose server is gone. Closing the /dev/fuse descriptor aborts the connection (pending calls fail
with ENOTCONN) and the mount is detached. Needs root and /dev/fuse. Given a process's pid, it mounts in
that process's mount namespace (a real-hosts lab container: the share as its sshd sees it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import subprocess
from pathlib import Path
from typing import Self

MODES = ("ok", "loading", "garbage", "truncated", "html", "huge", "hang", "wedged")
HUGE_BYTES = 10 * 1024 * 1024
_LOADING = b'{"error":{"message":"Loading model","type":"unavailable_error","code":503}}'


def _response(status: str, body: bytes, content_type: str, *, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class FaultServer:
    """An HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose; ``mode`` may change at any time."""

    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.requests = 0
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        if value not in MODES:
            raise ValueError(f"unknown fault mode {value!r}; known: {', '.join(MODES)}")
        self._mode = value

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(5):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                request = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b"/"
                await self._answer(path.decode("latin-1"), writer)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> None:
        mode = self.mode
        if mode == "wedged":  # /health still says ok, every other request is never answered
            mode = "ok" if path in ("/health", "/v1/health") else "hang"
        if mode == "hang":
            await asyncio.sleep(3600)  # never answer; aborted when the server closes
        elif mode == "huge":
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {HUGE_BYTES}"
                "\r\nConnection: close\r\n\r\n".encode()
            )
            chunk = b"[" + b"0," * 32767 + b"0"
            sent = 0
            while sent < HUGE_BYTES:
                piece = chunk[: HUGE_BYTES - sent]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
            return
        else:
            writer.write(self._body(mode, path))
        await writer.drain()

    @staticmethod
    def _body(mode: str, path: str) -> bytes:
        if mode == "ok" and path in ("/health", "/v1/health"):
            return _response("200 OK", b'{"status":"ok"}', "application/json")
        if mode == "ok":
            return _response(
                "404 Not Found",
                b'{"error":{"code":404,"message":"File Not Found","type":"not_found_error"}}',
                "application/json",
            )
        if mode == "loading":
            return _response("503 Service Unavailable", _LOADING, "application/json")
        if mode == "garbage":
            return _response("200 OK", bytes(range(256)) * 4, "application/json")
        if mode == "truncated":  # the header promises more than is sent, then the connection closes
            return _response("200 OK", b'{"status":"o', "application/json", length=200)
        assert mode == "html"
        return _response(
            "502 Bad Gateway",
            b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>",
            "text/html",
        )


# -- a mount whose stat never returns ------------------------------------------------------------
def hung_mount_unavailable() -> str | None:
    """Why a HungMount cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (mount(2) of a FUSE filesystem)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    return None


class HungMount:
    """A FUSE mount at ``path`` whose daemon never answers; ``release()`` (or leaving the ``with``)
    aborts it: blocked callers get ENOTCONN and the mount point is detached. With ``namespace_of``
    (a pid), ``path`` is a path in that process's mount namespace and the mount is made there."""

    # allow_other: the stat comes from the login user (llm-agent on a real host), not the mount's owner
    _OPTIONS = "rootmode=40000,user_id=0,group_id=0,allow_other"

    def __init__(self, path: Path | str, namespace_of: int | None = None):
        self.path = Path(path)
        self.namespace_of = namespace_of
        self._fd: int | None = None

    def _in_namespace(self, argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["nsenter", "-t", str(self.namespace_of), "-m", "-p", "--", *argv],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            **kwargs,
        )

    def __enter__(self) -> Self:
        reason = hung_mount_unavailable()
        if reason:
            raise RuntimeError(f"cannot make a hung mount: {reason}")
        self._fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        options = f"fd={self._fd},{self._OPTIONS}"
        if self.namespace_of is not None:  # mount(8) there, handed the descriptor (-i: no mount.fuse helper)
            made = self._in_namespace(["mkdir", "-p", str(self.path)])
            if made.returncode == 0:
                made = self._in_namespace(
                    ["mount", "-i", "-t", "fuse.gb10lab", "-o", options, "gb10lab-hung", str(self.path)],
                    pass_fds=(self._fd,),
                )
            if made.returncode != 0:
                self._close()
                raise OSError(
                    f"mount fuse on {self.path} in the namespace of pid {self.namespace_of}: {made.stderr.strip()}"
                )
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.mount(b"gb10lab-hung", str(self.path).encode(), b"fuse.gb10lab", 0, options.encode()) != 0:
            errno = ctypes.get_errno()
            self._close()
            raise OSError(errno, f"mount fuse on {self.path}: {os.strerror(errno)}")
        return self

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def release(self) -> None:
        """Abort the filesystem (pending stats fail with ENOTCONN) and detach it."""
        if self._fd is None:
            return
        self._close()
        umount = ["umount", "-l", str(self.path)]
        if self.namespace_of is not None:
            self._in_namespace(umount)
        else:
            subprocess.run(umount, capture_output=True, timeout=20, check=False)

    def __exit__(self, *exc: object) -> None:
        self.release()
