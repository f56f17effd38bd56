"""ThroughputTracker: the current gen/prompt tok/s of one host, with its source.

Preference, per DESIGN: /metrics counters when the server exposes them; else /slots
progress while a slot decodes; else the journal's print_timing lines. A figure from
a lower-ranked source never replaces one from a higher-ranked source that is alive.
"""

from __future__ import annotations

from collections.abc import Sequence

from gb10dash.collectors.llama import Metrics, SlotInfo
from gb10dash.core.rates import Rate, RateSource, gen_rate_from_slots, rates_from_metrics

_RANK = {RateSource.METRICS: 3, RateSource.SLOTS: 2, RateSource.JOURNAL: 1}


class ThroughputTracker:
    def __init__(self) -> None:
        self.gen: Rate | None = None
        self.prompt: Rate | None = None
        self._metrics: tuple[Metrics, float] | None = None
        self._slots: tuple[Sequence[SlotInfo], float] | None = None
        self.metrics_available = False

    def observe_poll(self, metrics: Metrics | None, slots: Sequence[SlotInfo] | None, at: float) -> None:
        has_counters = metrics is not None and metrics.tokens_predicted_total is not None
        self.metrics_available = has_counters
        if has_counters and metrics is not None:
            if self._metrics is not None:
                gen, prompt = rates_from_metrics(self._metrics[0], metrics, self._metrics[1], at)
                if gen is not None and gen.tokens_per_second:
                    self.gen = gen
                if prompt is not None and prompt.tokens_per_second:
                    self.prompt = prompt
            self._metrics = (metrics, at)
        if slots is not None:
            if self._slots is not None and not has_counters:
                rate = gen_rate_from_slots(self._slots[0], slots, self._slots[1], at)
                if rate is not None and rate.tokens_per_second:
                    self._offer("gen", rate)
            self._slots = (slots, at)

    def observe_timing(self, rate: Rate, phase: str) -> None:
        if self.metrics_available:
            return
        self._offer("prompt" if phase == "prompt" else "gen", rate)

    def _offer(self, which: str, rate: Rate) -> None:
        current: Rate | None = getattr(self, which)
        if current is None or _RANK[rate.source] >= _RANK[current.source] or not self._alive(current):
            setattr(self, which, rate)

    def _alive(self, rate: Rate) -> bool:
        """Is the source of this rate still producing figures? (metrics only when counters exist)."""
        if rate.source is RateSource.METRICS:
            return self.metrics_available
        return True
