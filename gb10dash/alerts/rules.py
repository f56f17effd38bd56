"""Alert rules: pure functions of (HostState, RuleSettings, now, Recent) → a Condition, None or UNKNOWN.

- a `Condition`: the rule's condition holds now (the engine decides when that becomes an alert);
- `None`: it does not hold;
- `UNKNOWN`: the data it needs is missing (host unreachable, a source failing): the engine keeps
  the alert as it is — a missing figure neither raises nor clears anything.

`Recent` is the little history the unit rule needs (when automatic restarts were seen); the
engine keeps it with `observe()`, itself pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from gb10dash.alerts.settings import GIB_KIB, RuleSettings
from gb10dash.collectors.llama import HealthState
from gb10dash.collectors.mounts import MountState
from gb10dash.format import duration
from gb10dash.state import HostState

CRITICAL, WARNING = "critical", "warning"


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
    """What the unit rule remembers of a host: the times automatic restarts were seen."""

    n_restarts: int | None = None
    restart_times: tuple[float, ...] = ()


def observe(recent: Recent, state: HostState, now: float, settings: RuleSettings) -> Recent:
    """Recent after one more state: increases of NRestarts are recorded at `now` (kept for the window)."""
    unit = state.unit
    if unit is None or unit.n_restarts is None:
        return recent
    keep = tuple(t for t in recent.restart_times if now - t <= settings.restart_window_s)
    n = unit.n_restarts
    if recent.n_restarts is None:
        # first sight: restarts counted by systemd since the unit's last manual start; only those
        # that may lie in the window count, at the time the current process started
        start = unit.started_at
        if n and start is not None and now - start <= settings.restart_window_s:
            keep = (start,) * min(n, settings.restarts)
    elif n > recent.n_restarts:
        keep += (now,) * min(n - recent.n_restarts, settings.restarts)
    return Recent(n_restarts=n, restart_times=keep[-max(settings.restarts, 1) * 2:])


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
    if h.state is HealthState.LOADING:
        started = u.started_at if u else None
        if started is not None and now - started < s.load_timeout_s:
            return None  # loading is expected for a while after a start
        took = f" for {duration(now - started)}" if started is not None else ""
        return Condition(f"still loading{took} (load timeout {duration(s.load_timeout_s)})",
                         since=None if started is None else started + s.load_timeout_s)
    detail = f": {h.message}" if h.message else ""
    return Condition(f"health {h.state.value}{detail}")


def share(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    m = state.mount
    if not state.connected or m is None:
        return UNKNOWN
    if m.state is MountState.MOUNTED:
        return None
    return Condition(f"model share {m.path} {m.state.value}" + (f" ({m.error})" if m.error else ""))


def throughput(state: HostState, s: RuleSettings, now: float, recent: Recent) -> Result:
    baseline = state.config.baseline_gen_tps
    gen = state.throughput.gen
    if baseline is None:
        return None  # no baseline, nothing to compare with
    if not state.connected:
        return UNKNOWN
    if gen is None or not gen.tokens_per_second or now - gen.at > s.max_age_s:
        return None  # not under load lately
    floor = baseline * (1 - s.fraction)
    if gen.tokens_per_second >= floor:
        return None
    return Condition(f"gen {gen.tokens_per_second:.1f} tok/s ({gen.source.value}) under {floor:.1f}: "
                     f"more than {s.fraction:.0%} below the baseline {baseline:g}", WARNING)


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
    return Condition(f"available memory {m.available_kib / GIB_KIB:.1f} GiB under the reserve "
                     f"{s.reserve_gib:g} GiB", WARNING)


Rule = Callable[[HostState, RuleSettings, float, Recent], Result]

#: every rule by name (the names of the [alerts.NAME] tables), in display order
RULES: dict[str, Rule] = {
    "unreachable": unreachable, "unit": unit, "health": health, "share": share,
    "throughput": throughput, "gpu_temp": gpu_temp, "memory": memory,
}
