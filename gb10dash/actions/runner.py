"""Running a plan on a host: one action per host at a time (a lock file), then the executor."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Awaitable, Callable, Iterator

from gb10dash import locations
from gb10dash.actions.audit import AuditLog
from gb10dash.actions.executor import Executor, PlanResult, Progress
from gb10dash.actions.plan import Plan
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.transport.base import Transport


class ActionBusy(Exception):
    """Another action is running on this host (here or in another gb10dash process)."""


@contextlib.contextmanager
def host_lock(host: str) -> Iterator[None]:
    path = locations.state_dir() / "locks" / f"{host}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another gb10dash"
            raise ActionBusy(f"{host}: an action is already running ({holder}); wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        yield
    finally:
        os.close(fd)


async def run_plan(
    plan: Plan,
    transport: Transport,
    client: Callable[[], Awaitable[LlamaClient]],
    *,
    unit: str,
    on_progress: Callable[[Progress], None] | None = None,
    audit: AuditLog | None = None,
) -> PlanResult:
    with host_lock(plan.host):
        executor = Executor(transport, client, unit=unit, audit=audit, on_progress=on_progress)
        return await executor.execute(plan)
