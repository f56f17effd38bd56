"""Will the model fit? Model bytes + an f16 KV cache estimate vs MemTotal less a reserve (pure).

GB10 memory is unified: the GPU's share of it is the same MemTotal the kernel reports, so the
check is against /proc/meminfo. The served model's memory is freed by the swap's restart, so
the new model is compared with the whole (less the reserve), not with what is free now.
A tight or too-big model is a warning, never a block.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gb10dash import format as fmt
from gb10dash.actions.gguf_header import GgufHeader
from gb10dash.actions.models import ModelCandidate
from gb10dash.collectors.memory import MemInfo

DEFAULT_RESERVE_GIB = 8.0  # the OS, compute buffers, the desktop: what a model must leave alone
CLOSE_MARGIN = 0.10  # within 10 % of the budget counts as close
KV_BYTES_PER_VALUE = 2  # llama.cpp's default KV cache type is f16
GIB = 1024**3


class Verdict(StrEnum):
    OK = "fits"
    CLOSE = "close"
    TOO_BIG = "too big"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FitResult:
    verdict: Verdict
    model_bytes: int
    kv_bytes: int | None  # None: the header lacks what the estimate needs
    budget_bytes: int | None  # MemTotal − reserve; None when MemTotal is unknown
    ctx: int | None  # the context size the KV estimate is for
    message: str  # one line, with the numbers

    @property
    def need_bytes(self) -> int:
        return self.model_bytes + (self.kv_bytes or 0)

    @property
    def warning(self) -> str | None:
        """The message when it is worth a warning before confirming (tight, too big, or unsure)."""
        return None if self.verdict is Verdict.OK and self.kv_bytes is not None else self.message


def _per_layer(value: int | tuple[int, ...] | None, layers: int) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        return value if len(value) == layers else None
    return (value,) * layers


def kv_cache_bytes(header: GgufHeader, ctx: int, bytes_per_value: int = KV_BYTES_PER_VALUE) -> int | None:
    """K and V for every layer: ctx × Σ n_kv_heads × (key_len + value_len) × bytes; None if unknown."""
    layers = header.block_count
    if not layers or ctx <= 0:
        return None
    heads = _per_layer(header.head_count, layers)
    kv_heads = _per_layer(header.head_count_kv, layers) or heads
    if heads is None or kv_heads is None:
        return None
    total = 0
    for n_head, n_kv in zip(heads, kv_heads):
        if n_kv == 0:
            continue  # a layer without attention (recurrent, or sharing another layer's KV)
        if header.key_length and header.value_length:
            k_len, v_len = header.key_length, header.value_length
        elif header.embedding_length and n_head:
            k_len = v_len = header.embedding_length // n_head
        else:
            return None
        total += n_kv * (k_len + v_len)
    return ctx * total * bytes_per_value


def fit_check(
    candidate: ModelCandidate,
    ctx: int | None,
    meminfo: MemInfo,
    *,
    reserve_gib: float = DEFAULT_RESERVE_GIB,
    close_margin: float = CLOSE_MARGIN,
) -> FitResult:
    """Model size + KV estimate for `ctx` (None/0: the model's trained context) vs MemTotal − reserve."""
    header = candidate.header
    trained = header.context_length if header else None
    effective = ctx if ctx and ctx > 0 else trained
    kv = kv_cache_bytes(header, effective) if header is not None and effective else None
    model = candidate.total_bytes
    if kv is None:
        why = "no GGUF header" if header is None else "the header lacks layer/head counts or ctx"
        parts = f"model {fmt.bytes_count(model)} + KV estimate unknown ({why})"
    else:
        parts = f"model {fmt.bytes_count(model)} + KV cache {fmt.bytes_count(kv)} at ctx {effective} (f16)"
        if header is not None and header.sliding_window:
            parts += f", an upper bound: sliding-window layers keep {header.sliding_window} tokens"
    extra = ""
    if ctx and trained and ctx > trained:
        extra = f"; ctx {ctx} is above the trained context {trained}"
    need = model + (kv or 0)
    if meminfo.total_kib is None:
        return FitResult(
            Verdict.UNKNOWN,
            model,
            kv,
            None,
            effective,
            f"fit unknown: needs {fmt.bytes_count(need)} ({parts}); MemTotal unknown{extra}",
        )
    total = meminfo.total_kib * 1024
    budget = max(0, total - int(reserve_gib * GIB))
    of = (
        f"of {fmt.bytes_count(budget)} usable (MemTotal {fmt.bytes_count(total)} − "
        f"{reserve_gib:g} GiB reserve; the served model's memory is freed by the swap)"
    )
    if need > budget:
        verdict = Verdict.TOO_BIG
        head = f"too big: needs {fmt.bytes_count(need)}, {fmt.bytes_count(need - budget)} over"
    elif need > budget * (1 - close_margin):
        verdict = Verdict.CLOSE
        head = f"close: needs {fmt.bytes_count(need)}, only {fmt.bytes_count(budget - need)} spare"
    else:
        verdict = Verdict.OK
        head = f"fits: needs {fmt.bytes_count(need)}, {fmt.bytes_count(budget - need)} spare"
    return FitResult(verdict, model, kv, budget, effective, f"{head} ({parts}) {of}{extra}")
