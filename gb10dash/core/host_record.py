"""A host's record: what its monitor has collected so far (fields, each source's status, the kept
journal, the connection) and the finished HostState built from it. The polls (host_polls.py) and the
monitor's loops (monitor.py) write it; front ends read `state` and `vitals()`."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gb10dash.collectors import journal, mounts
from gb10dash.collectors.kernel_events import KernelEvent, event_of
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import HostConfig, SshSettings
from gb10dash.core.load_progress import default_history
from gb10dash.core.load_watch import LoadWatcher
from gb10dash.core.rates import rate_from_timing
from gb10dash.core.slot_activity import SlotActivityTracker
from gb10dash.core.spec_decode import SpecTracker
from gb10dash.core.state import HostState, SourceStatus, Throughput
from gb10dash.core.throughput import ThroughputTracker
from gb10dash.transport import Transport, make_transport


@dataclasses.dataclass(frozen=True)
class Cadence:
    """Seconds between polls of each kind of source."""

    fast_s: float = 1.0  # /proc/meminfo, VmRSS (SFTP) while busy; HTTP /health /slots /metrics
    steady_s: float | None = None  # /proc/meminfo, VmRSS while steady (monitor.memory_busy); None: 5 × fast_s
    slow_s: float = 5.0  # mount probe (SFTP stat); pause before a failed stream is restarted
    plans_s: float = 15.0  # a look for interrupted plans (the host's plan marker, the local audit log)
    unit_backstop_s: float = 30.0  # `systemctl show` when no event asked for it sooner
    apps_backstop_s: float = 60.0  # `nvidia-smi --query-compute-apps` likewise
    gpu_ms: int = 1000  # nvidia-smi -lms interval
    stat_timeout_s: float = 3.0
    log_lines: int = 500  # journal entries kept in memory

    @property
    def memory_steady_s(self) -> float:
        return self.steady_s if self.steady_s is not None else 5 * self.fast_s


KERNEL_EVENTS_KEPT = 20  # the newest kernel events a host's state carries

#: what a front end gives the monitor to look for plans that never ended (actions/recover.py: PlanWatch):
#: the problem line with the way out, or None
PlanWatch = Callable[[HostConfig, Transport], Awaitable["str | None"]]


class ConnectionLost(Exception):
    pass


def cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def raise_if_cancelled() -> None:
    """Honour a cancel that something swallowed (3.11): wait_for whose inner call ends as the cancel
    comes returns its result instead; a TaskGroup whose child failed as we were cancelled raises the
    child's error. A loop that goes on waiting after that would keep its TaskGroup (and a reconnect) waiting."""
    if cancelling():
        raise asyncio.CancelledError


class HostRecord:
    def __init__(
        self,
        host: HostConfig,
        ssh: SshSettings | None = None,
        *,
        transport: Transport | None = None,
        cadence: Cadence | None = None,
        on_update: Callable[[Any], Any] | None = None,
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
        self.kernel_cursor: str | None = None  # where the kernel's log stream resumes
        self._kernel_events: collections.deque[KernelEvent] = collections.deque(maxlen=KERNEL_EVENTS_KEPT)
        self._fields: dict[str, Any] = {}
        self._sources: dict[str, SourceStatus] = {}
        self._throughput = ThroughputTracker()
        self._spec = SpecTracker()  # speculative decoding's acceptance, when the server drafts
        self._slot_activity = SlotActivityTracker()  # each busy slot's prefill or generation progress
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
        self._journal_checked = asyncio.Event()  # the login's access to the journal has been asked
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
            spec_decode=self._spec.last,
            kernel_events=tuple(self._kernel_events),
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

    def _check_connection(self, exc: BaseException) -> None:
        if not self.transport.connected:
            raise ConnectionLost(str(exc))

    def _add_kernel_entry(self, entry: journal.JournalEntry) -> None:
        if entry.cursor:
            self.kernel_cursor = entry.cursor
        event = event_of(entry)
        if event is not None:
            self._kernel_events.append(event)
            self._notify()

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
        prompt_progress = journal.parse_prompt_progress(entry.message)
        if prompt_progress is not None:
            self._slot_activity.observe_log(prompt_progress)
        timing = journal.parse_print_timing(entry.message)
        if timing is not None:
            at = entry.realtime_us / 1e6 if entry.realtime_us else time.time()
            rate = rate_from_timing(timing, at)
            if rate is not None:
                self._throughput.observe_timing(rate, timing.phase)
