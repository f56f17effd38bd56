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
stream is up and the MainPID alive, each fast poll confirms the unit state as current.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from gb10dash.canary import CanarySettings
from gb10dash.canary import probe as probe_canary
from gb10dash.collectors import gpu, journal, memory, mounts, server_process, systemd
from gb10dash.collectors.llama import Health, HealthState, Metrics
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import ConfigError, HostConfig, SshSettings, read_api_key
from gb10dash.load_progress import default_history
from gb10dash.load_watch import LoadWatcher
from gb10dash.rates import RateSource, rate_from_timing
from gb10dash.state import HostState, SourceStatus, Throughput
from gb10dash.throughput import ThroughputTracker
from gb10dash.transport import Transport, TransportError, make_transport
from gb10dash.transport.backoff import Backoff

#: while a server is idle (no request processing), /slots is read on one fast poll in this many
IDLE_SLOTS_EVERY = 5
WATCH_ONLY_JOURNAL = 'watch-only host (unit = "" in the config): no systemd unit, so no journal to follow'
JOURNAL_ACCESS_RETRY_S = 30.0  # a login that may not read the journal: look again this often (a group added)
#: /health asked after /metrics failed on a healthy server: a live server answers it in milliseconds
HEALTH_RECHECK_TIMEOUT_S = 1.0
#: the health a poll records when /metrics answered with its counters (llama-server: 503 to all while loading)
HEALTHY_BY_METRICS = Health(HealthState.OK, 200, None)


@dataclasses.dataclass(frozen=True)
class Cadence:
    """Seconds between polls of each kind of source."""

    fast_s: float = 1.0  # /proc/meminfo, VmRSS (SFTP), HTTP /health /slots /metrics
    slow_s: float = 5.0  # mount probe (SFTP stat); pause before a failed stream is restarted
    plans_s: float = 15.0  # a look for interrupted plans (the host's plan marker, the local audit log)
    unit_backstop_s: float = 30.0  # `systemctl show` when no event asked for it sooner
    apps_backstop_s: float = 60.0  # `nvidia-smi --query-compute-apps` likewise
    gpu_ms: int = 1000  # nvidia-smi -lms interval
    stat_timeout_s: float = 3.0
    log_lines: int = 500  # journal entries kept in memory


#: what a front end gives the monitor to look for plans that never ended (actions/recover.py: PlanWatch):
#: the problem line with the way out, or None
PlanWatch = Callable[[HostConfig, Transport], Awaitable["str | None"]]


class ConnectionLost(Exception):
    pass


def _cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def _raise_if_cancelled() -> None:
    """Honour a cancel that something swallowed (3.11): wait_for whose inner call ends as the cancel
    comes returns its result instead; a TaskGroup whose child failed as we were cancelled raises the
    child's error. A loop that goes on waiting after that would keep its TaskGroup (and a reconnect) waiting."""
    if _cancelling():
        raise asyncio.CancelledError


class HostMonitor:
    def __init__(
        self,
        host: HostConfig,
        ssh: SshSettings | None = None,
        *,
        transport: Transport | None = None,
        cadence: Cadence | None = None,
        on_update: Callable[[HostMonitor], Any] | None = None,
        plan_watch: PlanWatch | None = None,
    ):
        self.host = host
        self.ssh = ssh or SshSettings()
        self.transport = transport or make_transport(host, self.ssh)
        self.cadence = cadence or Cadence()
        self.on_update = on_update
        self.cursor: str | None = None
        self.log: collections.deque[journal.JournalEntry] = collections.deque(maxlen=self.cadence.log_lines)
        self.log_seq = 0  # entries ever added; `entries_since` uses it
        self._fields: dict[str, Any] = {}
        self._sources: dict[str, SourceStatus] = {}
        self._throughput = ThroughputTracker()
        self._connected = False
        self._unreachable_since: float | None = None
        self._unreachable_reason: str | None = None
        self._llama: LlamaClient | None = None
        self.plan_watch = plan_watch
        self._io_checked_pid: int | None = None
        #: why the unit's journal cannot be read by the login (and the fix), None when it can
        self.journal_problem: str | None = None
        self._prober = mounts.MountProber(
            self.transport, host.model_share, timeout=self.cadence.stat_timeout_s, mounted=host.model_share_mounted
        )
        self._refresh_identity = True
        self._slots_skipped = 0  # /slots polls left out in a row while the server is idle
        self._log_snapshot: tuple[int, tuple[journal.JournalEntry, ...]] = (-1, ())  # (log_seq, tuple(log))
        self._unit_wanted = asyncio.Event()  # re-read `systemctl show` now
        self._apps_wanted = asyncio.Event()  # re-read the GPU processes now
        self._journal_live = False  # the journal stream is following: no unit event unseen
        self._gone_pid: int | None = None  # a MainPID whose /proc entry was found gone
        self.load_watcher = LoadWatcher(self.transport, host.name, host.model_path, default_history())

    # -- state ---------------------------------------------------------------------------
    @property
    def state(self) -> HostState:
        return HostState(
            config=self.host,
            at=time.time(),
            connected=self._connected,
            unreachable_since=self._unreachable_since,
            unreachable_reason=self._unreachable_reason,
            throughput=Throughput(self._throughput.gen, self._throughput.prompt),
            recent_log=self._recent_log(),
            sources=dict(self._sources),
            **self._fields,
        )

    def _recent_log(self) -> tuple[journal.JournalEntry, ...]:
        """The kept journal as a tuple, built again only when a line came in since the last one
        (`state` is read several times a second; a copy of 2,000 entries each time is ~1 ms)."""
        if self._log_snapshot[0] != self.log_seq:
            self._log_snapshot = (self.log_seq, tuple(self.log))
        return self._log_snapshot[1]

    def vitals(self) -> tuple[bool, str | None, str | None]:
        """(connected, unit active/sub state, health state): what makes a host healthy or not,
        cheap to read on every update (the dashboard draws a change of these at once)."""
        unit, health = self._fields.get("unit"), self._fields.get("health")
        return (
            self._connected,
            f"{unit.active_state}/{unit.sub_state}" if unit is not None else None,
            health.state.value if health is not None else None,
        )

    def _ok(self, source: str, **values: Any) -> None:
        self._fields.update(values)
        self._sources[source] = self._sources.get(source, SourceStatus()).ok(time.time())

    def _failed(self, source: str, error: BaseException | str) -> None:
        message = error if isinstance(error, str) else (str(error) or type(error).__name__)
        self._sources[source] = self._sources.get(source, SourceStatus()).failed(time.time(), message)

    def _notify(self) -> None:
        """Tell the owner something changed; it pulls `state` when it wants (cheap to call often)."""
        if self.on_update is not None:
            self.on_update(self)

    def _set_connected(self, connected: bool, reason: str | None = None) -> None:
        now = time.time()
        if connected:
            self._connected, self._unreachable_since, self._unreachable_reason = True, None, None
            self._ok("ssh")
        else:
            if self._connected or self._unreachable_since is None:
                self._unreachable_since = now
            self._connected, self._unreachable_reason = False, reason
            self._failed("ssh", reason or "not connected")

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
                self._poll_mount(),
                self._poll_http(),
                self._poll_journal_tail(),
                self.poll_plans(),
            )
            await self._poll_load()  # one reading: how far a load has come (no rate from one)
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
                _raise_if_cancelled()
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
            self._unit_loop(),
            self._slow_loop(),
            self._fast_loop(),
            self._plans_loop(),
            self._watch_connection(),
        ]
        if self.host.api_via_ssh:
            loops.append(self._http_loop())
        reason = "connection closed"
        task, cancelling = asyncio.current_task(), _cancelling()
        try:
            async with asyncio.TaskGroup() as group:
                for loop in loops:
                    group.create_task(loop)
        except* ConnectionLost as lost:
            reason = str(lost.exceptions[0]) or "connection lost"
            if sys.version_info < (3, 12) and task is not None and _cancelling() > cancelling:
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
            _raise_if_cancelled()
            self._notify()
            await asyncio.sleep(max(0.05, seconds - (time.monotonic() - started)))

    async def _slow_loop(self) -> None:
        await self._every(self.cadence.slow_s, self._poll_mount)

    async def _plans_loop(self) -> None:
        await self._every(self.cadence.plans_s, self.poll_plans)

    async def _when_wanted(
        self, wanted: asyncio.Event, poll: Callable[[], Any], next_wait: Callable[[], float]
    ) -> None:
        """poll now, then whenever `wanted` is set (a burst of events coalesced) or next_wait() passes."""
        while True:
            wanted.clear()
            await poll()
            _raise_if_cancelled()
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
        await self._every(self.cadence.fast_s, self._poll_memory, self._poll_load)

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
                    sample = await asyncio.wait_for(anext(samples), stall_s)
                    _raise_if_cancelled()
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
                if self.journal_problem is not None:  # a stream would follow nothing, silently
                    self._failed("journal", self.journal_problem)
                    self._notify()
                    await asyncio.sleep(JOURNAL_ACCESS_RETRY_S)
                    continue
                self._journal_live = True
                async for entry in journal.stream_journal(
                    self.transport, self.host.unit, after_cursor=self.cursor, initial_lines=100
                ):
                    _raise_if_cancelled()
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

    def _check_connection(self, exc: BaseException) -> None:
        if not self.transport.connected:
            raise ConnectionLost(str(exc))

    def entries_since(self, seq: int) -> list[journal.JournalEntry]:
        """Log entries added after the count `seq` (as many as are still kept)."""
        kept = len(self.log)
        new = min(self.log_seq - seq, kept)
        # index from the end: a deque is fast there, and the rest is not copied on every call
        return [self.log[i] for i in range(kept - new, kept)] if new > 0 else []

    def _add_log(self, entry: journal.JournalEntry) -> None:
        if entry.cursor:
            self.cursor = entry.cursor
            # only the newest cursor is ever used: kept entries go without theirs (~170 B each)
            entry = dataclasses.replace(entry, cursor=None)
        self.log.append(entry)
        self.log_seq += 1
        timing = journal.parse_print_timing(entry.message)
        if timing is not None:
            at = entry.realtime_us / 1e6 if entry.realtime_us else time.time()
            self._throughput.observe_timing(rate_from_timing(timing, at), timing.phase)

    # -- polls: each records success or failure of one source ----------------------------
    async def _guard(self, source: str, poll: Callable[[], Any]) -> None:
        try:
            await poll()
        except TransportError as exc:
            self._failed(source, exc)
            self._check_connection(exc)
        except (ValueError, OSError) as exc:
            self._failed(source, exc)

    async def _poll_unit(self) -> None:
        async def poll() -> None:
            unit = (
                await systemd.collect_unit(self.transport, self.host.unit)
                if self.host.unit
                else await server_process.collect_server_process(self.transport, self.host.api_url)
            )
            previous = self._fields.get("unit")
            if previous is not None and previous.main_pid != unit.main_pid:
                self._refresh_identity = True  # a new process may serve another model (a fast restart
                # can pass between two /health polls without ever answering 503)
                self._apps_wanted.set()
            self._ok("unit", unit=unit)

        await self._guard("unit", poll)

    async def _poll_gpu_once(self) -> None:
        async def poll() -> None:
            samples = await gpu.collect_gpu(self.transport)
            self._ok("gpu", gpu=samples[0] if samples else None)

        await self._guard("gpu", poll)

    async def _poll_gpu_apps(self) -> None:
        async def poll() -> None:
            self._ok("gpu_apps", gpu_processes=await gpu.collect_compute_apps(self.transport))

        await self._guard("gpu_apps", poll)

    async def _poll_memory(self) -> None:
        async def poll() -> None:
            meminfo = await memory.collect_meminfo(self.transport)
            unit = self._fields.get("unit")
            pid = unit.main_pid if unit else None
            process = await memory.collect_process_memory(self.transport, pid) if pid else None
            if pid and pid != self._io_checked_pid:  # once per server process: may its /proc/PID/io be read?
                self._io_checked_pid = pid
                self._fields["unreadable"] = await self._io_unreadable(pid)
            self._ok("memory", meminfo=meminfo, process_memory=process)
            if pid and process is None:
                if self._gone_pid != pid:  # the main process is gone: systemd has news
                    self._gone_pid = pid
                    self._unit_wanted.set()
            elif self._journal_live and not self._unit_wanted.is_set():
                self._confirm_unit()

        await self._guard("memory", poll)

    async def _io_unreadable(self, pid: int) -> str | None:
        """Why the server's /proc/PID/io cannot be read (it runs as another user), None when it can."""
        try:
            await self.transport.read_file(f"/proc/{pid}/io", timeout=5)
        except PermissionError:
            return (
                f"the server's /proc/{pid}/io is not readable by the login (the server runs as another "
                f"user): a model load's progress is estimated from past loads"
            )
        except FileNotFoundError:
            return None
        return None

    async def _poll_load(self) -> None:
        """While /health says loading: /proc/MainPID/io against the model's size (nothing otherwise)."""

        async def poll() -> None:
            self._fields["load_progress"] = await self.load_watcher.poll(
                self._fields.get("unit"), self._fields.get("health"), time.time()
            )

        await self._guard("load", poll)

    def _confirm_unit(self) -> None:
        """The unit state read last is still current: the journal stream is following (systemd
        would have said otherwise) and the MainPID is alive. Its freshness is now."""
        status = self._sources.get("unit")
        if status is not None and status.last_ok is not None and not status.failing:
            self._sources["unit"] = status.ok(time.time())

    async def poll_plans(self) -> None:
        """A plan that started and never ended, as the front end's plan watch sees it (actions/recover.py:
        the host's plan marker, this workstation's audit log): a warning naming the way out. Not a source of
        its own: failing to read it degrades nothing. No watch given: nothing is looked for."""
        if self.plan_watch is None:
            return
        try:
            self._fields["interrupted"] = await self.plan_watch(self.host, self.transport)
        except TransportError as exc:
            self._check_connection(exc)
        except (ValueError, OSError) as exc:
            self._fields["interrupted"] = f"could not look for interrupted plans: {exc}"

    async def _poll_mount(self) -> None:
        async def poll() -> None:
            self._ok("mount", mount=await self._prober.probe())

        await self._guard("mount", poll)

    async def _poll_journal_tail(self) -> None:
        async def poll() -> None:
            if not self.host.unit:
                raise ValueError(WATCH_ONLY_JOURNAL)
            self.journal_problem = None
            for entry in await journal.collect_journal_tail(self.transport, self.host.unit, lines=200):
                self._add_log(entry)
            self._ok("journal")

        await self._guard("journal", poll)

    async def _poll_http(self) -> None:
        try:
            client = await self._client()
        except (TransportError, ConfigError) as exc:
            self._failed("health", exc)
            return
        metrics: Metrics | None = None
        metrics_error: ValueError | None = None
        if self._api_steady():
            # a llama-server answers every endpoint but /health with 503 while it loads, so /metrics
            # answering with its counters says healthy: one request a poll instead of two
            try:
                metrics = await client.metrics()
            except ValueError as exc:
                metrics_error = exc
            if metrics is not None and metrics.tokens_predicted_total is not None:
                health = HEALTHY_BY_METRICS
            else:  # /metrics failed: is the server down, loading, or up with requests hanging (wedged)?
                metrics = None
                health = await client.health(timeout_s=HEALTH_RECHECK_TIMEOUT_S)
        else:
            health = await client.health()
        previous = self._fields.get("health")
        if previous is not None and previous.state is not health.state:
            self._unit_wanted.set()  # a restart, a crash or a model (re)load: systemd and the GPU may say
            self._apps_wanted.set()
        self._ok("health", health=health)
        if health.state is not HealthState.OK:
            self._refresh_identity = True  # after a restart the model may have changed
            self._failed("api", health.message or health.state.value)
            return
        if metrics_error is not None:  # /health ok while /metrics failed: the API is what is wrong
            self._failed("api", metrics_error)
            return
        try:
            if self._refresh_identity:
                models = await client.models()
                self._fields["model"] = models[0] if models else None
                self._fields["props"] = await client.props()
                self._refresh_identity = False
            if metrics is None:
                metrics = await client.metrics()
            slots_due = self._slots_due(metrics)
            slots = await client.slots() if slots_due else None
            self._throughput.observe_poll(metrics, slots, time.time())
            # idle and not read this poll: the slots as last read stand (they have not changed)
            self._ok("api", slots=slots if slots_due else self._fields.get("slots"), metrics=metrics)
        except (ValueError, OSError) as exc:
            self._failed("api", exc)

    def _api_steady(self) -> bool:
        """Healthy at the last poll, the API read then too, and the server has /metrics counters."""
        health, api = self._fields.get("health"), self._sources.get("api")
        return (
            health is not None
            and health.state is HealthState.OK
            and not self._refresh_identity
            and api is not None
            and not api.failing
            and self._throughput.metrics_available
        )

    def _slots_due(self, metrics: Metrics | None) -> bool:
        """/slots on every poll while a request runs (or /metrics cannot say), and every
        IDLE_SLOTS_EVERY-th poll while the server's `requests_processing` gauge and the last slots
        read both say idle."""
        slots = self._fields.get("slots")
        idle = (
            metrics is not None
            and metrics.requests_processing == 0
            and slots is not None
            and not any(slot.is_processing for slot in slots)
        )
        if idle and self._slots_skipped < IDLE_SLOTS_EVERY - 1:
            self._slots_skipped += 1
            return False
        self._slots_skipped = 0
        return True

    async def api_client(self) -> LlamaClient:
        """The host's llama-server API client (direct, or through the SSH port-forward)."""
        return await self._client()

    async def _client(self) -> LlamaClient:
        if self._llama is None:
            base = self.host.api_url
            if self.host.api_via_ssh:
                parts = urlsplit(base)
                port = await self.transport.forward_port(
                    parts.hostname or "127.0.0.1",  # type: ignore[attr-defined]
                    parts.port or 80,
                )
                base = f"http://127.0.0.1:{port}"
            self._llama = LlamaClient(base, api_key=read_api_key(self.host))
        return self._llama

    async def close(self) -> None:
        await self._prober.close()  # a stat still blocked on a hung mount: it is killed, its task goes
        if self._llama is not None:
            await self._llama.aclose()
            self._llama = None
        await self.transport.close()


async def snapshot_all(
    hosts: list[HostConfig], ssh: SshSettings, plan_watch: PlanWatch | None = None, canary: CanarySettings | None = None
) -> list[HostState]:
    """One snapshot of every host, concurrently; a dead host never delays the others beyond its timeout
    (canary: with one wedge-canary request each, see snapshot)."""
    monitors = [HostMonitor(host, ssh, plan_watch=plan_watch) for host in hosts]
    return list(await asyncio.gather(*(m.snapshot(canary) for m in monitors)))


__all__ = ["Cadence", "HostMonitor", "PlanWatch", "RateSource", "snapshot_all"]
