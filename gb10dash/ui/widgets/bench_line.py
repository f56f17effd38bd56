"""The last benchmark of the served model, under the throughput chart (from the bench history)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from gb10dash.bench.history import HistoryEntry
from gb10dash.format import duration, number
from gb10dash.ui.widgets.labels import BAD, MUTED, joined
from gb10dash.ui.widgets.line import Line


def bench_content(runs: Sequence[HistoryEntry], now: float) -> Content:
    if not runs:
        return Content.styled("bench: none of this model yet (palette: quick benchmark)", MUTED)
    last = runs[-1]
    workload = f"{last.prompt_tokens}+{last.gen_tokens} tok" if last.prompt_tokens else "?"
    parts: list[Content | str | tuple[str, str]] = [
        ("bench", MUTED),
        Content.assemble(("gen ", MUTED), (number(last.gen_tps), BAD if last.regression else "")),
        Content.assemble(("prompt ", MUTED), number(last.prompt_tps)),
        (f"{workload} · {duration(now - last.ts)} ago", MUTED),
    ]
    if len(runs) > 1:
        gens = ", ".join(number(r.gen_tps) for r in runs[-4:-1])
        parts.append((f"before: {gens}", MUTED))
    return joined(parts)


class BenchLine(Line):
    def show(self, runs: Sequence[HistoryEntry], now: float) -> None:
        self.set_content(bench_content(runs, now))
