"""How many tokens a host served between two readings of llama-server's own counters (pure).

`/metrics` gives `llamacpp:prompt_tokens_total` and `llamacpp:tokens_predicted_total`, counted since the
server process started. Between two readings of the same server the difference is what it served; a new
server process (another MainPID or start time, or a counter that went down) starts again from zero, so
all it has counted is new. Tokens a server served after the last reading and before it stopped are not
known to anyone: they are lost, and only they.
"""

from __future__ import annotations

from dataclasses import dataclass

from gb10dash.core.state import HostState


@dataclass(frozen=True, slots=True)
class CounterReading:
    host: str
    model: str  # the served GGUF file name ("" when not known)
    server: str  # one server process: "PID@start" from the unit ("" when not known)
    prompt_total: int
    generated_total: int
    at: float


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    generated_tokens: int

    @property
    def any(self) -> bool:
        return bool(self.prompt_tokens or self.generated_tokens)


def reading_of(state: HostState) -> CounterReading | None:
    """The counters in a host's state, None when its server has no /metrics counters now — or when they
    were read before the unit's state was: a state's sources are read at different times, and after a
    restart the new MainPID can arrive before the new server's counters (the old server's counters would
    then be counted again as the new one's)."""
    metrics, api, unit_source = state.metrics, state.sources.get("api"), state.sources.get("unit")
    if metrics is None or metrics.prompt_tokens_total is None or metrics.tokens_predicted_total is None:
        return None
    if api is None or api.last_ok is None:
        return None
    if unit_source is not None and unit_source.last_ok is not None and api.last_ok < unit_source.last_ok:
        return None
    unit = state.unit
    server = f"{unit.main_pid}@{unit.started_at:.0f}" if unit and unit.main_pid and unit.started_at else ""
    return CounterReading(
        host=state.name,
        model=state.model_id or "",
        server=server,
        prompt_total=int(metrics.prompt_tokens_total),
        generated_total=int(metrics.tokens_predicted_total),
        at=state.at,
    )


def same_server(last: CounterReading, now: CounterReading) -> bool:
    """One server process counted both: the same PID@start, or (one unknown) counters that did not go down."""
    if last.server and now.server:
        return last.server == now.server
    return now.prompt_total >= last.prompt_total and now.generated_total >= last.generated_total


def is_stale(last: CounterReading, now: CounterReading) -> bool:
    """`now` is older news than `last`: read earlier, or lower counters of the same server process (two
    front ends record one host, and one's reading arrives after the other's newer one)."""
    if now.at <= last.at:
        return True
    return bool(last.server and last.server == now.server) and (
        now.prompt_total < last.prompt_total or now.generated_total < last.generated_total
    )


def served_between(last: CounterReading | None, now: CounterReading) -> Usage | None:
    """Tokens served after `last` up to `now`; None when `now` is stale (nothing to count, nothing to keep).
    No `last`: a first reading is the baseline (what the server counted before the ledger knew it is not
    attributed to any hour)."""
    if last is None:
        return Usage(0, 0)
    if is_stale(last, now):
        return None
    if same_server(last, now):
        return Usage(now.prompt_total - last.prompt_total, now.generated_total - last.generated_total)
    return Usage(now.prompt_total, now.generated_total)  # a new server counts from zero
