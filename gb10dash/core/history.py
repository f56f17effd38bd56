"""Rate history per host for the throughput chart: (time, gen, prompt) for the last `window_s`."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from gb10dash.core.rates import Rate


@dataclass(frozen=True, slots=True)
class RatePoint:
    at: float
    gen: float | None
    prompt: float | None


class RateHistory:
    """One point per distinct rate observation, at most `window_s` old (default 10 min) and at most one
    per `min_spacing_s` (default window_s / 600: 1 s; a later observation within it replaces the last
    point). The cap is by time, not by count: at any refresh rate the whole window is kept, in at most
    window_s / min_spacing_s points of 24 bytes (three array('d'); NaN stands for None)."""

    def __init__(self, window_s: float = 600.0, min_spacing_s: float | None = None):
        self.window_s = window_s
        self.min_spacing_s = window_s / 600 if min_spacing_s is None else min_spacing_s
        self._at = array("d")
        self._gen = array("d")
        self._prompt = array("d")
        self._first = 0  # index of the oldest point kept (the arrays are compacted now and then)
        self._opened = -math.inf  # when the last point was appended (later ones within the spacing replace it)
        self._last: tuple[float | None, float | None] = (None, None)

    def __len__(self) -> int:
        return len(self._at) - self._first

    def observe(self, gen: Rate | None, prompt: Rate | None, now: float) -> None:
        key = (gen.at if gen else None, prompt.at if prompt else None)
        if key == self._last or key == (None, None):
            return
        self._last = key
        g = gen.tokens_per_second if gen and gen.tokens_per_second is not None else math.nan
        p = prompt.tokens_per_second if prompt and prompt.tokens_per_second is not None else math.nan
        if len(self) and now - self._opened < self.min_spacing_s:
            self._at[-1], self._gen[-1], self._prompt[-1] = now, g, p
        else:
            self._opened = now
            self._at.append(now)
            self._gen.append(g)
            self._prompt.append(p)
        self._trim(now)

    def _trim(self, now: float) -> None:
        at, first, oldest = self._at, self._first, now - self.window_s
        while first < len(at) and at[first] < oldest:
            first += 1
        if first > 64 and first * 2 > len(at):  # compact: amortised O(1) a point
            for column in (self._at, self._gen, self._prompt):
                del column[:first]
            first = 0
        self._first = first

    def points(self, now: float) -> list[RatePoint]:
        self._trim(now)
        first = self._first
        return [
            RatePoint(at, None if math.isnan(g) else g, None if math.isnan(p) else p)
            for at, g, p in zip(self._at[first:], self._gen[first:], self._prompt[first:])
        ]
