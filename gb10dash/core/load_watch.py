"""LoadWatcher: the load progress of one host's llama-server, polled while /health says loading.

Per MainPID it stats the model's files once (every split part; one `stat` run), then reads
/proc/PID/io over the transport at each poll (SFTP for ssh: no process spawned). When that
cannot measure the load (permission denied, an mmap load) it estimates from past load times;
a load seen to end healthy is recorded in the history (seconds from the process's start).
"""

from __future__ import annotations

from dataclasses import dataclass

from gb10dash.collectors.commands import read_text, run_checked
from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.core.load_progress import (
    LoadHistory,
    LoadProgress,
    ReadTracker,
    estimated,
    model_parts,
    parse_rchar,
    parse_sizes,
    reads_count_load,
    served_model_path,
    sizes_argv,
)
from gb10dash.transport.base import CommandTimeout, Transport

MMAP_WHY = "mmap load: its page faults do not show in /proc/PID/io"


@dataclass(frozen=True, slots=True)
class LoadCounts:
    """The model loads this watcher saw (since the front end started): the exporter's lifecycle series."""

    loads: int = 0  # loads seen to end healthy
    failed: int = 0  # loads whose process went away (crashed, stopped, restarted) before it was healthy
    last_seconds: float | None = None  # the last healthy load: from the process's start to /health ok


class LoadWatcher:
    def __init__(self, transport: Transport, host: str, configured_model: str, history: LoadHistory):
        self.transport = transport
        self.host = host
        self.configured_model = configured_model
        self.history = history
        self._pid: int | None = None
        self._model = ""
        self._started: float | None = None
        self._tracker: ReadTracker | None = None
        self._why: str | None = None  # why this load can only be estimated
        self._past: list[float] = []
        self._seen_loading = False
        self._healthy_pid: int | None = None  # the MainPID last seen with /health ok
        self.recorded: list[tuple[str, float]] = []  # (model, seconds) recorded by this watcher
        self.counts = LoadCounts()

    async def poll(self, unit: UnitStatus | None, health: Health | None, now: float) -> LoadProgress | None:
        """The progress while loading (None otherwise); records a load that ended healthy."""
        pid = unit.main_pid if unit is not None else None
        state = health.state if health is not None else None
        if self._seen_loading:
            self._end_of_load(unit, pid, state, now)
        if state is HealthState.OK:
            self._healthy_pid = pid
        if state is HealthState.LOADING and unit is not None and not self._seen_loading and self._stale(unit, pid):
            return None  # the unit was read before the restart /health already sees: wait for its new MainPID
        if state is not HealthState.LOADING or pid is None or unit is None:
            if not self._seen_loading:  # a load still on (a poll that failed meanwhile) keeps its process
                self._pid = None
            return None
        if pid != self._pid:
            await self._start(pid, unit)
        self._seen_loading = True
        if self._tracker is not None:
            try:
                rchar = parse_rchar(await read_text(self.transport, f"/proc/{pid}/io"))
                return self._tracker.add(now, rchar)
            except PermissionError:
                self._tracker, self._why = None, f"/proc/{pid}/io not readable (permission denied)"
            except FileNotFoundError:
                return None  # the process is gone; the unit's next state will say why
        elapsed = now - self._started if self._started is not None else None
        return estimated(elapsed, self._past, self._why or "")

    def _stale(self, unit: UnitStatus, pid: int | None) -> bool:
        """A new server is loading but the unit state is from before its restart: the process that was
        healthy, or one stopping or stopped. (Taken as the loading process, its disappearance a moment
        later would count a failed load that never was.) An activating unit is not stale: a Type=notify
        unit stays activating through its server's load."""
        return unit.active_state in ("deactivating", "inactive", "failed") or (
            pid is not None and pid == self._healthy_pid
        )

    def _end_of_load(self, unit: UnitStatus | None, pid: int | None, state: HealthState | None, now: float) -> None:
        """A load that was seen: ended healthy (recorded), or its process went away (a failed load)."""
        counts = self.counts
        if state is HealthState.OK and pid == self._pid and self._started is not None:
            seconds = now - self._started
            self.history.record(self.host, self._model, seconds, now)
            self.recorded.append((self._model, seconds))
            self.counts = LoadCounts(counts.loads + 1, counts.failed, seconds)
            self._seen_loading = False
        elif unit is not None and (not unit.is_running or pid != self._pid):
            self.counts = LoadCounts(counts.loads, counts.failed + 1, counts.last_seconds)
            self._seen_loading = False

    async def _start(self, pid: int, unit: UnitStatus) -> None:
        self._pid, self._started, self._tracker, self._why = pid, unit.started_at, None, None
        self._model = served_model_path(unit.exec_start, self.configured_model)
        self._past = self.history.past(self.host, self._model)
        if not reads_count_load(unit.exec_start):
            self._why = MMAP_WHY
            return
        parts = model_parts(self._model)
        try:
            total = parse_sizes(await run_checked(self.transport, sizes_argv(parts), timeout=10), len(parts))
        except (ValueError, CommandTimeout) as exc:
            self._why = f"model size unknown ({exc})"
            return
        self._tracker = ReadTracker(total)
