"""Rate history per host for the throughput chart: a bounded ring of (time, gen, prompt)."""

from __future__ import annotations

import collections
from dataclasses import dataclass

from gb10dash.rates import Rate


@dataclass(frozen=True, slots=True)
class RatePoint:
    at: float
    gen: float | None
    prompt: float | None


class RateHistory:
    """Keeps one point per distinct rate observation, at most `window_s` old (default 10 min)."""

    def __init__(self, window_s: float = 600.0, max_points: int = 3600):
        self.window_s = window_s
        self._points: collections.deque[RatePoint] = collections.deque(maxlen=max_points)
        self._last: tuple[float | None, float | None] = (None, None)

    def observe(self, gen: Rate | None, prompt: Rate | None, now: float) -> None:
        key = (gen.at if gen else None, prompt.at if prompt else None)
        if key == self._last or key == (None, None):
            return
        self._last = key
        self._points.append(RatePoint(now, gen.tokens_per_second if gen else None,
                                      prompt.tokens_per_second if prompt else None))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._points and self._points[0].at < now - self.window_s:
            self._points.popleft()

    def points(self, now: float) -> list[RatePoint]:
        self._trim(now)
        return list(self._points)
