"""Speculative decoding, from llama-server's `/metrics` counters (a server started with a draft model,
`-md … --spec-type draft-simple`): how many of the drafted tokens the target model accepted, and how many
it accepted per draft (verification step), over the last requests that drafted.

The counters (`llamacpp:spec_decode_num_drafts_total`, `…_num_draft_tokens_total`,
`…_num_accepted_tokens_total`) count since the server started: the figures are the change between two
polls that saw drafting (the first reading, or a single one as `gb10dash status` takes, gives the figures
since the server started); a counter that went down is a server restart (counted from zero again), not
negative work. A server without a draft model has no such counters (older builds) or keeps them at 0:
no figure then.
"""

from __future__ import annotations

from dataclasses import dataclass

from gb10dash.collectors.llama import Metrics

DRAFTS, DRAFT_TOKENS, ACCEPTED = (
    "spec_decode_num_drafts_total",
    "spec_decode_num_draft_tokens_total",
    "spec_decode_num_accepted_tokens_total",
)


@dataclass(frozen=True, slots=True)
class SpecCounters:
    drafts: float
    draft_tokens: float
    accepted: float

    @classmethod
    def of(cls, metrics: Metrics) -> SpecCounters | None:
        values = (metrics.get(DRAFTS), metrics.get(DRAFT_TOKENS), metrics.get(ACCEPTED))
        if any(v is None for v in values):
            return None
        drafts, tokens, accepted = (float(v) for v in values if v is not None)
        return cls(drafts, tokens, accepted)


SINCE_START = SpecCounters(0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class SpecDecode:
    """The last figures measured: acceptance = accepted / drafted tokens, accepted per draft."""

    acceptance: float  # 0..1
    accepted_per_draft: float
    drafted: int  # draft tokens in the measured interval
    at: float  # when measured
    accepted_total: int  # since the server started (its counter)
    draft_tokens_total: int

    def describe(self) -> str:
        """`draft 80% ×2.4`: short enough for the gen figure's source line (37 columns)."""
        return f"draft {self.acceptance * 100:.0f}% ×{self.accepted_per_draft:.1f}"


def spec_between(before: SpecCounters, after: SpecCounters, at: float) -> SpecDecode | None:
    """The figures between two readings; None when nothing was drafted between them or a counter went
    down (a restart)."""
    drafts = after.drafts - before.drafts
    tokens = after.draft_tokens - before.draft_tokens
    accepted = after.accepted - before.accepted
    if drafts <= 0 or tokens <= 0 or accepted < 0:
        return None
    return SpecDecode(
        acceptance=min(1.0, accepted / tokens),
        accepted_per_draft=accepted / drafts,
        drafted=int(tokens),
        at=at,
        accepted_total=int(after.accepted),
        draft_tokens_total=int(after.draft_tokens),
    )


class SpecTracker:
    """Keeps the last reading and the last figure (kept while the server idles, like the tok/s)."""

    def __init__(self) -> None:
        self.last: SpecDecode | None = None
        self._reading: SpecCounters | None = None

    def observe(self, metrics: Metrics, at: float) -> None:
        counters = SpecCounters.of(metrics)
        if counters is None:
            self.last, self._reading = None, None
            return
        before = self._reading
        if before is None or counters.drafts < before.drafts:  # first look, or the server restarted
            self.last = spec_between(SINCE_START, counters, at)
        else:
            self.last = spec_between(before, counters, at) or self.last
        self._reading = counters
