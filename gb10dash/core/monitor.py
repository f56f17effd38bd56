"""HostMonitor: runs the collectors of one host and keeps its HostState.

`snapshot()` collects everything once (for `gb10dash status`); `run()` keeps a
persistent connection with long-lived streams (nvidia-smi -lms, journalctl -f)
and reads over SFTP, reconnecting with capped exponential backoff. A failing
source is recorded in its SourceStatus and never stops the others.

In steady state nothing is spawned on the host: the unit's state (`systemctl show`)
is re-read when the journal stream carries systemd's word about the unit, when
the MainPID's /proc entry goes away or when /health changes, and otherwise on a
backstop poll; the GPU processes (`nvidia-smi --query-compute-apps`) on a MainPID
or health change, a GPU stream restart, or their own backstop. While the journal
stream is up and the MainPID alive, each memory poll confirms the unit state as current. Memory
(meminfo, the MainPID's VmRSS) is read every fast poll while the host is busy and every
`memory_steady_s` (5 fast polls) while it is steady (`memory_busy`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

from gb10dash.collectors import gpu, journal, kernel_events, systemd
from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.memory import MemInfo
from gb10dash.core.canary import CanarySettings
from gb10dash.core.canary import probe as probe_canary
from gb10dash.core.host_polls import HEALTH_RECHECK_TIMEOUT_S, IDLE_SLOTS_EVERY, WATCH_ONLY_JOURNAL, HostPolls
from gb10dash.core.host_record import Cadence, ConnectionLost, PlanWatch, cancelling, raise_if_cancelled
from gb10dash.core.rates import RateSource
from gb10dash.core.state import HostState
from gb10dash.transport import TransportError
from gb10dash.transport.backoff import Backoff

KERNEL_SINCE_S = 3600.0  # a first look at the kernel's log goes this far back (the kernel alert's window is 15 min)
KERNEL_RETRY_MAX_S = 300.0  # the longest wait before a kernel stream that fails at once is started again
KERNEL_FOLLOWING_S = 1.0  # the kernel log's stream counts as following once it has stayed up this long
#: memory that moved by more than this share of the total between two reads keeps the fast cadence
MEMORY_MOVING_SHARE = 0.01
JOURNAL_ACCESS_RETRY_S = 30.0  # a login that may not read the journal: look again this often (a group added)


def memory_moved(before: MemInfo | None, after: MemInfo | None) -> bool:
    """Available memory moved by more than MEMORY_MOVING_SHARE of the total between two reads (or
    either read says too little to tell)."""
    if before is None or after is None:
        return True
    total, a, b = after.total_kib, before.available_kib, after.available_kib
    if not total or a is None or b is None:
        return True
    return abs(a - b) > MEMORY_MOVING_SHARE * total


def memory_busy(health: Health | None, unit: systemd.UnitStatus | None, read_pid: int | None, moving: bool) -> bool:
    """Memory is read every fast poll while any of these holds, else every steady poll: the server is
    not answering healthy (loading, down, restarting), the unit is on its way somewhere, its MainPID is
    not the one read last, or memory moved at the last read (or could not be read). A server generating
    holds its memory (weights and KV cache are allocated at load): it is steady unless memory moves."""
    return (
        health is None
        or health.state is not HealthState.OK
        or unit is None
        or systemd.is_transitional(unit)
        or unit.main_pid != read_pid
        or moving
    )


class HostMonitor(HostPolls):
    """One host's collectors: a snapshot once, or run on their cadence over one connection."""

    # -- one snapshot --------------------------------------------------------------------
    async def snapshot(self, canary: CanarySettings | None = None) -> HostState:
        """Everything once (status, check). canary: also one wedge-canary request when /health says ok
        (a server can answer /health and nothing else: then the host is "wedged")."""
        try:
            await self.transport.connect()
        except TransportError as exc:
            self._set_connected(False, str(exc))
            await self._poll_http_direct_only()
            return self.state
        self._set_connected(True)
        try:
            await self._poll_unit()
            await asyncio.gather(
                self._poll_gpu_once(),
                self._poll_gpu_apps(),
                self._poll_memory(),
                self._poll_pressure(),
                self._poll_mount(),
                self._poll_http(),
                self._poll_journal_tail(),
                self._poll_kernel_tail(),
                self.poll_plans(),
            )
            await self._poll_load()  # one reading: how far a load has come (no rate from one)
            self._slot_activity_with_log()  # the journal's tail came in beside /slots: its prefill lines too
            health = self._fields.get("health")
            if canary is not None and health is not None and health.state is HealthState.OK:
                self._fields["canary"] = await probe_canary(await self._client(), canary)
        finally:
            await self.close()
        return self.state

    async def _poll_http_direct_only(self) -> None:
        if not self.host.api_via_ssh:
            await self._poll_http()

    # -- continuous ----------------------------------------------------------------------
    async def run(self) -> None:
        backoff = Backoff(cap_s=self.ssh.reconnect_max_s)
        http_task = None if self.host.api_via_ssh else asyncio.create_task(self._http_loop())
        try:
            while True:
                raise_if_cancelled()
                try:
                    await self.transport.connect()
                except TransportError as exc:
                    self._set_connected(False, str(exc))
                    self._notify()
                    await asyncio.sleep(backoff.next_delay())
                    continue
                backoff.reset()
                self._set_connected(True)
                self._notify()
                reason = await self._run_connected()
                self._set_connected(False, reason)
                self._notify()
                await self.transport.close()
                self._llama = None if self.host.api_via_ssh else self._llama
        finally:
            if http_task is not None:
                http_task.cancel()
            await self.close()

    async def _run_connected(self) -> str:
        self._journal_live = False
        loops = [
            self._gpu_loop(),
            self._gpu_apps_loop(),
            self._journal_loop(),
            self._kernel_loop(),
            self._unit_loop(),
            self._slow_loop(),
            self._fast_loop(),
            self._plans_loop(),
            self._watch_connection(),
        ]
        if self.host.api_via_ssh:
            loops.append(self._http_loop())
        reason = "connection closed"
        task, cancels_before = asyncio.current_task(), cancelling()
        try:
            async with asyncio.TaskGroup() as group:
                for loop in loops:
                    group.create_task(loop)
        except* ConnectionLost as lost:
            reason = str(lost.exceptions[0]) or "connection lost"
            if sys.version_info < (3, 12) and task is not None and cancelling() > cancels_before:
                # 3.11: a TaskGroup whose child fails while it waits cancels its parent task and never
                # uncancels it; left so, that count would read as our own cancellation
                task.uncancel()
        return reason

    async def _watch_connection(self) -> None:
        while self.transport.connected:  # noqa: ASYNC110 (a transport has no event for a lost link)
            await asyncio.sleep(0.2)
        raise ConnectionLost(f"{getattr(self.transport, 'alias', self.host.name)}: connection lost")

    async def _every(self, seconds: float, *polls: Callable[[], Any]) -> None:
        while True:
            started = time.monotonic()
            for poll in polls:
                await poll()
            raise_if_cancelled()
            self._notify()
            await asyncio.sleep(max(0.05, seconds - (time.monotonic() - started)))

    async def _slow_loop(self) -> None:
        await self._every(self.cadence.slow_s, self._poll_pressure, self._poll_mount)

    async def _plans_loop(self) -> None:
        await self._every(self.cadence.plans_s, self.poll_plans)

    async def _when_wanted(
        self, wanted: asyncio.Event, poll: Callable[[], Any], next_wait: Callable[[], float]
    ) -> None:
        """poll now, then whenever `wanted` is set (a burst of events coalesced) or next_wait() passes."""
        while True:
            wanted.clear()
            await poll()
            raise_if_cancelled()
            self._notify()
            try:
                async with asyncio.timeout(next_wait()):
                    await wanted.wait()
            except TimeoutError:
                continue
            await asyncio.sleep(0.1)  # systemd logs a stop or restart as several lines at once

    async def _unit_loop(self) -> None:
        retry = [0.0]

        def next_wait() -> float:
            unit, status = self._fields.get("unit"), self._sources.get("unit")
            if (status is not None and status.failing) or (unit is not None and systemd.is_transitional(unit)):
                # on its way somewhere (or unreadable): look again soon, less often the longer it lasts
                retry[0] = min(self.cadence.unit_backstop_s, max(self.cadence.fast_s, retry[0] * 2))
                return retry[0]
            retry[0] = 0.0
            return self.cadence.unit_backstop_s

        await self._when_wanted(self._unit_wanted, self._poll_unit, next_wait)

    async def _gpu_apps_loop(self) -> None:  # apart: a hung nvidia-smi must not delay the unit's state
        await self._when_wanted(self._apps_wanted, self._poll_gpu_apps, lambda: self.cadence.apps_backstop_s)

    async def _fast_loop(self) -> None:
        read_at, read_pid, moving = -float("inf"), None, True

        async def memory_when_due() -> None:
            nonlocal read_at, read_pid, moving
            fields, now = self._fields, time.monotonic()
            busy = memory_busy(fields.get("health"), fields.get("unit"), read_pid, moving)
            if not busy and now - read_at < self.cadence.memory_steady_s - 0.05:
                return
            before, unit = fields.get("meminfo"), fields.get("unit")
            read_at, read_pid = now, unit.main_pid if unit is not None else None
            await self._poll_memory()
            status = self._sources.get("memory")  # a failed read is tried again at the fast cadence
            moving = memory_moved(before, self._fields.get("meminfo")) or status is None or status.failing

        await self._every(self.cadence.fast_s, memory_when_due, self._poll_load)

    async def _http_loop(self) -> None:
        await self._every(self.cadence.fast_s, self._poll_http)

    async def _gpu_loop(self) -> None:
        # a stream that stays silent (nvidia-smi hung on the driver) is restarted, not waited on forever
        stall_s = max(5.0, 5 * self.cadence.gpu_ms / 1000)
        restarted = False
        while True:
            samples = gpu.stream_gpu(self.transport, self.cadence.gpu_ms)
            try:
                while True:
                    async with asyncio.timeout(stall_s):
                        sample = await anext(samples)
                    raise_if_cancelled()
                    self._ok("gpu", gpu=sample)
                    if restarted:  # nvidia-smi works again: so may the GPU process query
                        restarted = False
                        self._apps_wanted.set()
                    self._notify()
            except StopAsyncIteration:
                self._failed("gpu", "nvidia-smi stream ended")
            except TimeoutError:
                self._failed("gpu", f"nvidia-smi sent nothing for {stall_s:g} s (hung?); restarting it")
            except TransportError as exc:
                self._check_connection(exc)
                self._failed("gpu", exc)
            except ValueError as exc:
                self._failed("gpu", exc)
            finally:
                await samples.aclose()
            restarted = True
            self._apps_wanted.set()  # whatever ails nvidia-smi is worth saying on the GPU processes too
            self._notify()
            await asyncio.sleep(self.cadence.slow_s)

    async def _journal_loop(self) -> None:
        if not self.host.unit:  # watch-only: nothing to follow
            self.journal_problem = WATCH_ONLY_JOURNAL
            self._failed("journal", WATCH_ONLY_JOURNAL)
            await asyncio.Event().wait()
        while True:
            resumed_from, received = self.cursor, 0
            try:
                self.journal_problem = await journal.check_journal_access(self.transport, self.host.unit)
                self._journal_checked.set()
                if self.journal_problem is not None:  # a stream would follow nothing, silently
                    self._failed("journal", self.journal_problem)
                    self._notify()
                    await asyncio.sleep(JOURNAL_ACCESS_RETRY_S)
                    continue
                self._journal_live = True
                async for entry in journal.stream_journal(
                    self.transport, self.host.unit, after_cursor=self.cursor, initial_lines=100
                ):
                    raise_if_cancelled()
                    received += 1
                    self._add_log(entry)
                    if systemd.is_unit_event(entry.message, entry.pid, self.host.unit, entry.unit):
                        self._unit_wanted.set()
                    self._ok("journal")
                    self._notify()
                if resumed_from is not None and received == 0 and self.transport.connected:
                    # journalctl refuses a cursor the journal no longer has (rotated, vacuumed)
                    self.cursor = None
                    self._failed(
                        "journal",
                        "cursor no longer in the journal; resumed from the tail "
                        "(lines written meanwhile may be missing)",
                    )
                else:
                    self._failed("journal", "journalctl stream ended")
            except TransportError as exc:
                self._check_connection(exc)
                self._failed("journal", exc)
            finally:
                self._journal_live = False
            self._unit_wanted.set()  # what happened while no stream was following is not known
            await asyncio.sleep(self.cadence.slow_s)

    async def _kernel_loop(self) -> None:
        """The kernel's log: GPU Xid errors, the driver out of memory, the OOM killer (collectors/kernel_events)."""
        if not self.host.unit:  # watch-only: the host is not ours to watch that closely
            await asyncio.Event().wait()
        failing = Backoff(first_s=2 * self.cadence.slow_s, cap_s=KERNEL_RETRY_MAX_S)
        while True:
            started = time.monotonic()
            try:
                await self._journal_checked.wait()  # the unit's journal loop asks whether the login may read it
                if self.journal_problem is not None:
                    self._failed("kernel", self.journal_problem)
                    await asyncio.sleep(JOURNAL_ACCESS_RETRY_S)
                    continue
                # following: an empty kernel log prints nothing, so a stream still up after a second says so
                following = asyncio.get_running_loop().call_later(KERNEL_FOLLOWING_S, self._ok, "kernel")
                try:
                    async for entry in kernel_events.stream_kernel_journal(
                        self.transport, after_cursor=self.kernel_cursor, since=time.time() - KERNEL_SINCE_S
                    ):
                        raise_if_cancelled()
                        self._add_kernel_entry(entry)
                        self._ok("kernel")
                finally:
                    following.cancel()
                self._failed("kernel", "journalctl -k stream ended")
            except TransportError as exc:
                self._check_connection(exc)
                self._failed("kernel", exc)
            # a stream that keeps failing at once (a journalctl that refuses -k) is started again less and
            # less often, not a process every slow poll for as long as the dashboard runs
            if time.monotonic() - started < KERNEL_FOLLOWING_S * 5:
                await asyncio.sleep(failing.next_delay())
            else:
                failing.reset()
                await asyncio.sleep(self.cadence.slow_s)

    async def close(self) -> None:
        await self._prober.close()  # a stat still blocked on a hung mount: it is killed, its task goes
        if self._llama is not None:
            await self._llama.aclose()
            self._llama = None
        await self.transport.close()


__all__ = [
    "HEALTH_RECHECK_TIMEOUT_S",
    "IDLE_SLOTS_EVERY",
    "Cadence",
    "HostMonitor",
    "PlanWatch",
    "RateSource",
]
