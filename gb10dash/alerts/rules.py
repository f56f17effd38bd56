"""Alert rules: pure functions of (HostState, RuleSettings, now, Recent) → a Condition, None or UNKNOWN.

- a `Condition`: the rule's condition holds now (the engine decides when that becomes an alert);
- `None`: it does not hold;
- `UNKNOWN`: the data it needs is missing (host unreachable, a source failing): the engine keeps
  the alert as it is — a missing figure neither raises nor clears anything.

`Recent` is the little history the unit rule needs (when automatic restarts were seen); the
engine keeps it with `observe()`, itself pure.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from gb10dash.alerts.settings import GIB_KIB, AlertSettings, RuleSettings
from gb10dash.collectors.gpu import GpuSample
from gb10dash.collectors.kernel_events import KernelEventKind
from gb10dash.collectors.llama import HealthState
from gb10dash.core.state import HostState
from gb10dash.format import clock, duration


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"


CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING
MAX_GEN_FIGURES = 200


@dataclass(frozen=True, slots=True)
class Condition:
    message: str
    severity: str = CRITICAL
    since: float | None = None  # when it began, if the data says (else: when the engine first saw it)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
Result = Condition | None | _Unknown


@dataclass(frozen=True, slots=True)
class Recent:
    """What the rules remember of a host: when automatic restarts were seen (unit), and the gen
    tok/s figures measured lately (throughput: one figure is too noisy to judge on)."""

    n_restarts: int | None = None
    restart_times: tuple[float, ...] = ()
    gen_rates: tuple[tuple[float, float], ...] = ()  # (measured at, tok/s), figures under load only


def observe(recent: Recent, state: HostState, now: float, settings: AlertSettings) -> Recent:
    """Recent after one more state (pure): restarts and gen figures kept for their rules' windows."""
    return Recent(
        *_restarts(recent, state, now, settings.rule("unit")),
        gen_rates=_gen_rates(recent, state, now, settings.rule("throughput")),
    )


def _restarts(recent: Recent, state: HostState, now: float, s: RuleSettings) -> tuple[int | None, tuple[float, ...]]:
    """Increases of NRestarts, recorded at `now` and kept for the window."""
    unit = state.unit
    if unit is None or unit.n_restarts is None:
        return recent.n_restarts, recent.restart_times
    keep = tuple(t for t in recent.restart_times if now - t <= s.restart_window_s)
    n = unit.n_restarts
    if recent.n_restarts is None:
        # first sight: restarts counted by systemd since the unit's last manual start; only those
        # that may lie in the window count, at the time the current process started
        start = unit.started_at
        if n and start is not None and now - start <= s.restart_window_s:
            keep = (start,) * min(n, s.restarts)
    elif n > recent.n_restarts:
        keep += (now,) * min(n - recent.n_restarts, s.restarts)
    return n, keep[-max(s.restarts, 1) * 2 :]


def _gen_rates(recent: Recent, state: HostState, now: float, s: RuleSettings) -> tuple[tuple[float, float], ...]:
    keep = [(at, tps) for at, tps in recent.gen_rates if now - at <= s.max_age_s]
    gen = state.throughput.gen
    if (
        gen is not None
        and gen.tokens_per_second
        and now - gen.at <= s.max_age_s
        and all(at != gen.at for at, _ in keep)
    ):
        keep.append((gen.at, gen.tokens_per_second))
    return tuple(keep[-MAX_GEN_FIGURES:])


def unreachable(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    if state.connected:
        return None
    if state.unreachable_since is None:
        return UNKNOWN  # not tried yet
    return Condition(f"unreachable: {state.unreachable_reason or 'not connected'}", since=state.unreachable_since)


def unit(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    u = state.unit
    if not state.connected or u is None:
        return UNKNOWN
    if u.active_state == "failed":
        return Condition(f"unit failed (result {u.result or '?'}, {u.sub_state})")
    if not u.is_running:
        return Condition(f"unit {u.active_state}/{u.sub_state}")
    restarts = sum(1 for t in recent.restart_times if now - t <= s.restart_window_s)
    if restarts >= s.restarts:
        return Condition(f"unit restarted {restarts} times in {duration(s.restart_window_s)}")
    return None


def health(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    h = state.health
    if not state.connected or h is None:
        return UNKNOWN
    if h.state is HealthState.OK:
        return None
    u = state.unit
    if u is not None and not u.is_running:
        return None  # the unit rule says it
    started = u.started_at if u else None
    if h.state in (HealthState.LOADING, HealthState.DOWN) and started is not None and now - started < s.load_timeout_s:
        return None  # after a start: the port opens, then 503 while the model loads
    if h.state is HealthState.LOADING:
        took = f" for {duration(now - started)}" if started is not None else ""
        return Condition(
            f"still loading{took} (load timeout {duration(s.load_timeout_s)})",
            since=None if started is None else started + s.load_timeout_s,
        )
    detail = f": {h.message}" if h.message else ""
    return Condition(f"health {h.state.value}{detail}")


def share(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    m = state.mount
    if not state.connected or m is None:
        return UNKNOWN
    if m.ok:
        return None
    return Condition(f"model share {m.path} {m.state.value}" + (f" ({m.error})" if m.error else ""))


def throughput(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    """The median of the gen figures measured in the last max_age_s (under load), against the baseline."""
    baseline = state.config.baseline_gen_tps
    if baseline is None:
        return None  # no baseline, nothing to compare with
    if not state.connected:
        return UNKNOWN
    u = state.unit
    if u is not None and not u.is_running:
        return None  # the unit rule says it (a stopped server's last slow figure is not a second alert)
    figures = [tps for at, tps in recent.gen_rates if now - at <= s.max_age_s]
    if not figures:
        return None  # not under load lately
    median, floor = statistics.median(figures), baseline * (1 - s.fraction)
    if median >= floor:
        return None
    source = f" ({state.throughput.gen.source.value})" if state.throughput.gen else ""
    return Condition(
        f"gen {median:.1f} tok/s{source} under {floor:.1f}: more than {s.fraction:.0%} below "
        f"the baseline {baseline:g} (median of {len(figures)} in {duration(s.max_age_s)})",
        WARNING,
    )


def gpu_temp(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    g = state.gpu
    if not state.connected or g is None or g.temperature_c is None:
        return UNKNOWN
    if g.temperature_c <= s.limit_c:
        return None
    return Condition(f"GPU {g.temperature_c:g} °C over the limit {s.limit_c:g} °C", WARNING)


def memory(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    m = state.meminfo
    if not state.connected or m is None or m.available_kib is None:
        return UNKNOWN
    if m.available_kib >= s.reserve_gib * GIB_KIB:
        return None
    return Condition(
        f"available memory {m.available_kib / GIB_KIB:.1f} GiB under the reserve {s.reserve_gib:g} GiB", WARNING
    )


def memory_pressure(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    """PSI of /proc/pressure/memory: tasks stalled on memory (reclaim, compaction, swap) — on a unified-memory
    host, the sign that a model and the page cache no longer fit, before the OOM killer or a GPU fault."""
    p = state.memory_pressure
    if not state.connected or p is None:
        return UNKNOWN
    full = p.full.avg10 if p.full is not None else 0.0
    if p.some.avg10 < s.some_pct and full < s.full_pct:
        return None
    return Condition(
        f"memory pressure: tasks stalled {p.some.avg10:.1f} % of the last 10 s (some), all at once {full:.1f} % "
        f"(full); thresholds {s.some_pct:g} % / {s.full_pct:g} %",
        WARNING,
    )


def kernel(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    """The kernel's log in the last window_s: a GPU Xid, the NVIDIA driver out of memory, or the OOM killer
    (critical when it is a GPU fault or llama-server that was killed; another process killed: warning)."""
    events = [e for e in state.kernel_events if e.at is not None and now - e.at <= s.window_s]
    if not events:
        return UNKNOWN if not state.connected else None
    newest = events[-1]
    severe = [e for e in events if e.kind is not KernelEventKind.OOM_KILL or e.hits_server]
    more = f" (and {len(events) - 1} more in {duration(s.window_s)})" if len(events) > 1 else ""
    return Condition(f"kernel: {newest.describe()} at {clock(newest.at)}{more}", CRITICAL if severe else WARNING)


def _gpu_now(state: HostState) -> GpuSample | None:
    """The GPU sample, or None while the host is unreachable or the GPU source fails (a sample left over)."""
    gpu_source = state.sources.get("gpu")
    if not state.connected or (gpu_source is not None and gpu_source.failing):
        return None
    return state.gpu


def throttle(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    """A slowdown among clocks_event_reasons.active (not idle, not clocks held by a setting)."""
    g = _gpu_now(state)
    if g is None or g.clocks_event_reasons is None:
        return UNKNOWN
    reasons = g.throttle_reasons
    if not reasons:
        return None
    return Condition(f"GPU clocks held down: {', '.join(r.label for r in reasons)}", WARNING)


def power_low(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    """Power draw pinned low while the GPU is busy (the GB10 power-negotiation fault: ~30 W under load)."""
    g = _gpu_now(state)
    if g is None or g.power_w is None or g.utilization_pct is None:
        return UNKNOWN
    if g.utilization_pct < s.min_util_pct or g.power_w > s.max_power_w:
        return None
    return Condition(
        f"GPU power {g.power_w:.0f} W at {g.utilization_pct:.0f}% utilization: at most "
        f"{s.max_power_w:g} W under load (power negotiation?)",
        WARNING,
    )


def wedged(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    """/health says ok but the wedge canary got no (good) answer: the server holds its port and does nothing."""
    # a server that is down or loading is the health rule's to report, not a wedge
    if not state.connected or not state.wedged or state.canary is None:
        return None
    return Condition(state.canary.describe())


Rule = Callable[[HostState, RuleSettings, float, Recent], Result]

#: every rule by name (the names of the [alerts.NAME] tables), in display order
RULES: dict[str, Rule] = {
    "unreachable": unreachable,
    "unit": unit,
    "health": health,
    "share": share,
    "throughput": throughput,
    "gpu_temp": gpu_temp,
    "throttle": throttle,
    "power_low": power_low,
    "memory": memory,
    "memory_pressure": memory_pressure,
    "kernel": kernel,
    "wedged": wedged,
}
