"""Tokens per second from /metrics counters, /slots progress or journal print_timing lines (pure).

Sources, best first (always show which one a figure came from):
- METRICS: Δtokens / Δbusy-seconds of the server's own counters. llama-server adds a request's
  generated tokens and time only when the request finishes (prompt counters when its prompt is
  done), so during a long generation the counters stand still; parallel requests' times add up,
  so this is the per-request decoding speed.
- SLOTS: Δn_decoded of each slot still on the same task, summed, over wall time: live, aggregate.
- JOURNAL: the `eval time` / `prompt eval time` figure of the last finished request.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from gb10dash.collectors.journal import PrintTiming
from gb10dash.collectors.llama import Metrics, SlotInfo


class RateSource(enum.StrEnum):
    METRICS = "metrics"
    SLOTS = "slots"
    JOURNAL = "journal"


@dataclass(frozen=True)
class Rate:
    tokens_per_second: float | None  # 0.0 = idle
    source: RateSource
    at: float  # epoch seconds


def _finite(*values: float | None) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


#: the least time counted between two /metrics samples that makes a rate: a request that generates one
#: token (the model's end-of-text first) adds that token and ~1 µs of generation time — the first token
#: comes from the prompt pass — which read as a million tok/s on the demo's screen
MIN_MEASURED_S = 0.001


def _counter_rate(
    p_tok: float | None,
    c_tok: float | None,
    p_sec: float | None,
    c_sec: float | None,
    busy: bool,
    at: float,
) -> Rate | None:
    if not _finite(p_tok, c_tok, p_sec, c_sec):
        return None
    d_tok, d_sec = c_tok - p_tok, c_sec - p_sec  # type: ignore[operator]
    if d_tok < 0 or d_sec < 0:
        return None  # counters went back: the server restarted
    if d_sec >= MIN_MEASURED_S:
        return Rate(d_tok / d_sec, RateSource.METRICS, at)
    if d_tok == 0 and d_sec == 0 and not busy:
        return Rate(0.0, RateSource.METRICS, at)
    return None  # busy but nothing finished yet, or tokens without (measurable) time: unknown


def rates_from_metrics(prev: Metrics, cur: Metrics, prev_at: float, cur_at: float) -> tuple[Rate | None, Rate | None]:
    """(generation, prompt) rates between two /metrics samples.

    Rate(0.0) when idle (counters still, no request processing); None when unknown: counters
    missing, reset (server restart), a request in flight that has not finished yet, or samples
    out of order.
    """
    if cur_at < prev_at:
        return None, None
    busy = bool(cur.requests_processing)
    gen = _counter_rate(
        prev.tokens_predicted_total,
        cur.tokens_predicted_total,
        prev.tokens_predicted_seconds_total,
        cur.tokens_predicted_seconds_total,
        busy,
        cur_at,
    )
    prompt = _counter_rate(
        prev.prompt_tokens_total,
        cur.prompt_tokens_total,
        prev.prompt_seconds_total,
        cur.prompt_seconds_total,
        busy,
        cur_at,
    )
    return gen, prompt


def gen_rate_from_slots(
    prev: Sequence[SlotInfo], cur: Sequence[SlotInfo], prev_at: float, cur_at: float
) -> Rate | None:
    """Generation tok/s: Σ Δn_decoded over slots on the same task in both samples, per wall second.

    Rate(0.0) when no slot is processing in either sample; None when there is nothing to compare yet
    (a new task, a non-positive interval).
    """
    dt = cur_at - prev_at
    if dt <= 0:
        return None
    before = {(s.id, s.id_task): s for s in prev if s.id_task is not None}
    busy_now = [s for s in cur if s.is_processing]
    if not busy_now and not any(s.is_processing for s in prev):
        return Rate(0.0, RateSource.SLOTS, cur_at)
    decoded, matched = 0, False
    for slot in busy_now:
        if slot.id_task is None:
            continue
        old = before.get((slot.id, slot.id_task))
        if old is None or slot.n_decoded is None or old.n_decoded is None:
            continue
        if slot.n_decoded < old.n_decoded:
            continue
        decoded += slot.n_decoded - old.n_decoded
        matched = True
    if not matched:
        return None
    return Rate(decoded / dt, RateSource.SLOTS, cur_at)


def rate_from_timing(t: PrintTiming, at: float) -> Rate | None:
    """The rate llama-server printed for a finished request (prompt or eval phase); None for a phase
    timed under MIN_MEASURED_S (a one-token generation prints `0.01 ms / 1 tokens`)."""
    if t.ms < MIN_MEASURED_S * 1000:
        return None
    return Rate(t.tokens_per_second, RateSource.JOURNAL, at)
