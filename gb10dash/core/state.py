"""HostState: everything known about one host, with when each part was last seen.

Pure: built by the monitor from collector results, read by the CLI and the UI.
"Stale" and "unreachable since" are computed from recorded timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gb10dash.collectors.gpu import GpuProcess, GpuSample
from gb10dash.collectors.journal import JournalEntry
from gb10dash.collectors.kernel_events import KernelEvent
from gb10dash.collectors.llama import (
    Health,
    HealthState,
    Metrics,
    ModelInfo,
    Props,
    SlotInfo,
    model_file_name,
)
from gb10dash.collectors.memory import MemInfo, ProcessMemory
from gb10dash.collectors.mounts import MountStatus
from gb10dash.collectors.pressure import MemoryPressure
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import HostConfig
from gb10dash.core.canary import CanaryResult
from gb10dash.core.load_progress import LoadProgress
from gb10dash.core.load_watch import LoadCounts
from gb10dash.core.rates import Rate
from gb10dash.core.slot_activity import SlotActivity
from gb10dash.core.spec_decode import SpecDecode
from gb10dash.format import clock

#: the sources a monitor collects; each has its own freshness record
SOURCES = ("ssh", "unit", "journal", "kernel", "gpu", "gpu_apps", "memory", "pressure", "mount", "health", "api")


@dataclass(frozen=True, slots=True)
class SourceStatus:
    last_ok: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def ok(self, at: float) -> SourceStatus:
        return SourceStatus(last_ok=at, last_error=None, last_error_at=None)

    def failed(self, at: float, error: str) -> SourceStatus:
        return SourceStatus(last_ok=self.last_ok, last_error=error, last_error_at=at)

    @property
    def failing(self) -> bool:
        return self.last_error is not None

    def age(self, now: float) -> float | None:
        return None if self.last_ok is None else max(0.0, now - self.last_ok)


@dataclass(frozen=True, slots=True)
class Throughput:
    gen: Rate | None = None
    prompt: Rate | None = None


@dataclass(frozen=True, slots=True)
class HostState:
    config: HostConfig
    at: float
    connected: bool = False
    unreachable_since: float | None = None
    unreachable_reason: str | None = None
    unit: UnitStatus | None = None
    health: Health | None = None
    model: ModelInfo | None = None
    props: Props | None = None
    slots: tuple[SlotInfo, ...] | None = None
    slot_activity: tuple[SlotActivity, ...] = ()  # each busy slot: prefill or generating, how far, tok/s, ETA
    metrics: Metrics | None = None
    gpu: GpuSample | None = None
    gpu_processes: tuple[GpuProcess, ...] = ()
    meminfo: MemInfo | None = None
    process_memory: ProcessMemory | None = None
    memory_pressure: MemoryPressure | None = None  # /proc/pressure/memory (PSI); None: not read, or no PSI
    mount: MountStatus | None = None
    throughput: Throughput = field(default_factory=Throughput)
    spec_decode: SpecDecode | None = None  # draft acceptance, when the server runs with a draft model
    recent_log: tuple[JournalEntry, ...] = ()
    kernel_events: tuple[KernelEvent, ...] = ()  # GPU Xid, driver out of memory, OOM kills: the newest 20
    sources: dict[str, SourceStatus] = field(default_factory=dict)
    canary: CanaryResult | None = None  # the last wedge-canary verdict, when the canary runs
    load_progress: LoadProgress | None = None  # while /health says loading
    load_counts: LoadCounts | None = None  # model loads seen ended healthy / failed, the last one's seconds
    interrupted: str | None = None  # a plan that started and never ended (actions/recover.py), and the way out
    unreadable: str | None = None  # what of the server's /proc cannot be read by the login, and what that costs

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def model_id(self) -> str | None:
        return model_file_name(self.model.id) if self.model else None

    @property
    def server_gpu_memory_mib(self) -> float | None:
        """GPU memory held by the unit's main process (per-process figure; GB10 has no total)."""
        pid = self.unit.main_pid if self.unit else None
        for proc in self.gpu_processes:
            if pid is not None and proc.pid == pid:
                return proc.used_memory_mib
        return None

    @property
    def wedged(self) -> bool:
        """/health says ok, but the wedge canary's last request got no (good) answer."""
        return (
            self.canary is not None
            and not self.canary.ok
            and self.health is not None
            and self.health.state is HealthState.OK
        )

    def problems(self) -> list[str]:
        """Why this host is degraded; empty when healthy."""
        if not self.connected:
            since = self.unreachable_since
            return [
                f"unreachable ({self.unreachable_reason or 'not connected'})"
                if since is None
                else f"unreachable since {clock(since)} ({self.unreachable_reason})"
            ]
        found: list[str] = []
        if self.unit is None:
            found.append("unit state unknown" + _why(self.sources.get("unit")))
        elif self.unit.watch_only and not self.unit.is_running:
            found.append(f"no llama-server process serving {self.config.api_url} (watch-only host)")
        elif not self.unit.is_running:
            found.append(
                f"unit {self.unit.active_state}/{self.unit.sub_state}"
                + (f" (result {self.unit.result})" if self.unit.result not in (None, "success") else "")
            )
        if self.health is None or self.health.state is not HealthState.OK:
            word = self.health.state.value if self.health else "unknown"
            found.append(f"health {word}" + (f": {self.health.message}" if self.health and self.health.message else ""))
        if self.wedged and self.canary is not None:
            found.append(self.canary.describe())  # health says ok, but it does not answer
        if self.mount is None:
            found.append("model share state unknown" + _why(self.sources.get("mount")))
        elif not self.mount.ok:
            found.append(
                f"model share {self.mount.path} {self.mount.state.value}"
                + (f" ({self.mount.error})" if self.mount.error else "")
            )
        return found

    def warnings(self) -> list[str]:
        """Things worth showing that do not make the host degraded."""
        found = [
            f"{name}: {status.last_error}"
            for name, status in sorted(self.sources.items())
            if status.failing and name in ("gpu", "gpu_apps", "memory", "pressure", "journal", "kernel")
        ]
        if self.interrupted:
            found.insert(0, self.interrupted)
        if self.unreadable:
            found.append(self.unreadable)
        wanted = model_file_name(self.config.model_path)
        if self.model_id and self.model_id != wanted:
            found.append(f"serving {self.model_id}, config says {wanted}")
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems()


def _why(status: SourceStatus | None) -> str:
    return f" ({status.last_error})" if status and status.last_error else ""
