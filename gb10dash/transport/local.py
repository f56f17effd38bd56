"""Local transport: asyncio subprocesses on this machine (the dashboard on a GB10 itself)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Mapping, Sequence

from gb10dash.transport.base import CommandResult, CommandTimeout, Transport, TransportError

#: how long we wait for a killed process to be reaped before abandoning it
#: (a process stuck in D state on a hung NFS mount may never go away)
_REAP_GRACE_S = 1.0


#: the longest output line a stream reads (asyncio's default, 64 KiB, is less than one journal entry of
#: journald's LineMax, 48K, as JSON with escapes)
STREAM_LINE_LIMIT = 8 * 1024 * 1024


class LocalTransport(Transport):
    def __init__(self, name: str = "local", env: Mapping[str, str] | None = None):
        self.name = name
        self._env = dict(os.environ, **env) if env else None
        self._children: set[asyncio.subprocess.Process] = set()

    @property
    def connected(self) -> bool:
        return True

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        for proc in list(self._children):
            await _kill(proc)
        self._children.clear()

    async def forward_port(self, remote_host: str, remote_port: int) -> int:
        return remote_port  # the host is this machine

    async def _spawn(self, argv: Sequence[str], *, stdin: int | None) -> asyncio.subprocess.Process:
        if not argv:
            raise ValueError("empty argv")
        try:
            return await asyncio.create_subprocess_exec(
                *argv,
                stdin=stdin,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                env=self._env,
                start_new_session=True,
                limit=STREAM_LINE_LIMIT,
            )
        except FileNotFoundError:
            raise TransportError(f"{self.name}: command not found: {argv[0]}") from None
        except OSError as exc:
            raise TransportError(f"{self.name}: cannot run {argv[0]}: {exc.strerror}") from None

    async def run(self, argv: Sequence[str], *, timeout: float = 10.0, input: str | None = None) -> CommandResult:
        proc = await self._spawn(argv, stdin=asyncio.subprocess.PIPE)
        data = input.encode() if input is not None else None
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await proc.communicate(data)
        except TimeoutError:
            await _kill(proc)
            raise CommandTimeout(f"{self.name}: {argv[0]} timed out after {timeout:g} s") from None
        except asyncio.CancelledError:
            await _kill(proc)
            raise
        status = proc.returncode if proc.returncode is not None else -1
        if status < 0:  # killed by a signal: report it the way a shell would
            status = 128 - status
        return CommandResult(tuple(argv), status, stdout.decode(errors="replace"), stderr.decode(errors="replace"))

    async def stream(self, argv: Sequence[str]) -> AsyncIterator[str]:
        proc = await self._spawn(argv, stdin=None)
        self._children.add(proc)
        try:
            assert proc.stdout is not None
            while True:
                line = await proc.stdout.readline()
                if not line:
                    break
                yield line.decode(errors="replace").rstrip("\n")
        finally:
            self._children.discard(proc)
            await _kill(proc)

    async def read_file(self, path: str, *, timeout: float = 10.0, max_bytes: int = 4 * 1024 * 1024) -> bytes:
        def read() -> bytes:
            with open(path, "rb") as handle:
                return handle.read(max_bytes)

        # the thread is abandoned (not awaited) on timeout: a hung mount must not hang us
        future = asyncio.get_running_loop().run_in_executor(None, read)
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(future)
        except TimeoutError:
            raise CommandTimeout(f"{self.name}: reading {path} timed out after {timeout:g} s") from None


async def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
    with contextlib.suppress(asyncio.TimeoutError, ProcessLookupError):
        async with asyncio.timeout(_REAP_GRACE_S):
            await proc.wait()
