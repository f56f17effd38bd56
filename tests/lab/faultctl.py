"""Helpers of the fault tests: a monitor on a lab host with tight timings, run as a task, and
process-level faults (SIGSTOP/SIGCONT of a host's sshd, its connections' sessions)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import psutil

from gb10dash.core.monitor import Cadence, HostMonitor
from gb10dash.core.state import HostState
from gb10dash.lab import Lab

from . import labctl

FAST = Cadence(fast_s=0.3, slow_s=1.0, gpu_ms=200, stat_timeout_s=2.0, log_lines=5000)
KEEPALIVE_S, KEEPALIVE_COUNT = 1.0, 2  # a silent connection is dropped after about 1 × (2 + 1) s


def monitor_for(
    lab: Lab,
    name: str,
    cadence: Cadence = FAST,
    on_update: Callable[[HostMonitor], Any] | None = None,
    **host_changes: Any,
) -> HostMonitor:
    config = labctl.config(lab)
    ssh = dataclasses.replace(
        config.ssh,
        keepalive_interval_s=KEEPALIVE_S,
        keepalive_count_max=KEEPALIVE_COUNT,
        reconnect_max_s=1,
        connect_timeout_s=3,
    )
    host = dataclasses.replace(config.host(name), **host_changes)
    return HostMonitor(host, ssh, cadence=cadence, on_update=on_update)


@contextlib.asynccontextmanager
async def running(*monitors: HostMonitor) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(m.run()) for m in monitors]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Recorder:
    """Every state a monitor published (an on_update callback), with its monotonic time."""

    def __init__(self) -> None:
        self.states: list[tuple[float, HostState]] = []

    def __call__(self, monitor: HostMonitor) -> None:
        self.states.append((time.monotonic(), monitor.state))

    def since(self, t0: float) -> list[HostState]:
        return [s for t, s in self.states if t >= t0]


def sshd_tree(lab: Lab, host: str) -> list[psutil.Process]:
    pid = labctl.sshd_pid(lab, host)
    assert pid, f"no sshd pid for {host}"
    listener = psutil.Process(pid)
    try:
        return [listener, *listener.children(recursive=True)]
    except psutil.NoSuchProcess:  # a child went away while being listed
        return [listener, *listener.children(recursive=True)]


def signal_all(procs: list[psutil.Process], sig: signal.Signals) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)


def ensure_sshd(lab: Lab, host: str) -> None:
    """Leave the host's sshd running and not stopped (test cleanup)."""
    pid = labctl.sshd_pid(lab, host)
    if pid and psutil.pid_exists(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        return
    labctl.start_sshd(lab, host)


def session_processes(lab: Lab, host: str) -> list[psutil.Process]:
    """The per-connection sshd processes of a host (children of its listener), not the listener."""
    return sshd_tree(lab, host)[1:]


class CountingProxy:
    """A TCP proxy on 127.0.0.1 in front of a real HTTP server that counts the request lines it passes
    (by path), so a test sees from the wire which endpoints a client asked for."""

    REQUEST_LINE = re.compile(rb"(?:GET|POST|HEAD) (/[^ ?\r\n]*)[^\r\n]* HTTP/1\.[01]\r\n")

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.paths: collections.Counter[str] = collections.Counter()
        self.connections = 0  # client connections accepted
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            self._tasks.discard(task)
            return
        try:
            await asyncio.gather(self._pipe(reader, up_writer, count=True), self._pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            up_writer.close()
            writer.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: bool = False) -> None:
        while data := await reader.read(65536):
            if count:
                self.paths.update(path.decode("latin-1") for path in self.REQUEST_LINE.findall(data))
            writer.write(data)
            await writer.drain()
        writer.close()
