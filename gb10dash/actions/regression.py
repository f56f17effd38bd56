"""The rebuild regression check: the quick bench on the old build before, on the new one after.

A rebuild that comes up healthy can still be slower (a flag llama.cpp changed the default of, a
kernel that regressed for this arch). Both runs go into the bench history; the before/after table
names each build (`/props` build_info) and the commits, and a drop of gen tok/s by more than the
threshold offers the one-key revert to the previous build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gb10dash.bench import history as bench_history
from gb10dash.bench.report import tps
from gb10dash.bench.stats import REGRESSION_THRESHOLD
from gb10dash.bench.workload import make_workload
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import HostConfig
from gb10dash.format import DASH

if TYPE_CHECKING:  # the runner (and httpx with it) only when a rebuild benches
    from gb10dash.bench.runner import BenchResult


@dataclass(frozen=True, slots=True)
class BeforeAfter:
    before: BenchResult | None
    after: BenchResult | None
    threshold: float = REGRESSION_THRESHOLD
    commits: tuple[str | None, str | None] = (None, None)  # git HEAD before / after the pull

    @staticmethod
    def _mean(result: BenchResult | None, which: str) -> float | None:
        if result is None:
            return None
        summary = (result.gen if which == "gen" else result.prompt).summary
        return summary.mean if summary else None

    def change(self, which: str = "gen") -> float | None:
        """after ÷ before − 1 (−0.2: 20 % slower), None when either is missing."""
        before, after = self._mean(self.before, which), self._mean(self.after, which)
        if not before or after is None:
            return None
        return after / before - 1.0

    @property
    def dropped(self) -> bool:
        """gen tok/s fell by more than the threshold: offer the revert."""
        change = self.change("gen")
        return change is not None and change < -self.threshold

    def table(self) -> list[str]:
        def build(result: BenchResult | None, commit: str | None) -> str:
            name = (result.build if result else None) or DASH
            return f"{name}" + (f" ({commit})" if commit else "")

        def row(label: str, which: str) -> str:
            change = self.change(which)
            shown = DASH if change is None else f"{change * 100:+.1f} %"
            return (
                f"  {label:<13} {tps(self._mean(self.before, which)):>12}  {tps(self._mean(self.after, which)):>12}"
                f"  {shown:>9}"
            )

        lines = [
            f"  {'':<13} {'before':>12}  {'after':>12}  {'change':>9}",
            row("gen tok/s", "gen"),
            row("prompt tok/s", "prompt"),
            f"  build before: {build(self.before, self.commits[0])}",
            f"  build after:  {build(self.after, self.commits[1])}",
        ]
        if self.dropped:
            lines.append(
                f"  REGRESSION: gen tok/s {-(self.change('gen') or 0) * 100:.0f} % lower than before "
                f"(threshold {self.threshold * 100:.0f} %): revert with B or `gb10dash rebuild HOST --revert`"
            )
        elif self.change("gen") is None:
            lines.append("  no comparison: a run is missing")
        else:
            lines.append("  no regression")
        return lines


async def quick_bench(host: HostConfig, client: LlamaClient) -> BenchResult:
    """The quick bench, recorded in the bench history like `gb10dash bench --quick`."""
    from gb10dash.bench.runner import BenchRun

    result = await BenchRun(host, client, make_workload(quick=True)).run()
    if not result.partial:
        bench_history.append(result)
    return result
