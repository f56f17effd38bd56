"""`gb10dash rebuild HOST` and `--revert` on the command line: the same plans as `b` and `B`, with
the quick bench before and after (the regression check) and the renamed-flags follow-up."""

from __future__ import annotations

import sys

from gb10dash.actions.build_switch import prepare_revert
from gb10dash.actions.cli import (
    EXIT_FAILED,
    ActionHooks,
    ProgressPrinter,
    confirm,
    report,
    run_action,
)
from gb10dash.actions.executor import PlanResult
from gb10dash.actions.plan import Plan
from gb10dash.actions.rebuild import (
    commits_of,
    prepare_rebuild,
    remote_path,
    rewrite_follow_up,
    switches_build,
)
from gb10dash.actions.regression import BeforeAfter, quick_bench
from gb10dash.actions.runner import run_plan
from gb10dash.bench.runner import BenchError, BenchResult
from gb10dash.config import Config
from gb10dash.monitor import HostMonitor
from gb10dash.transport.base import TransportError


async def _bench(monitor: HostMonitor, label: str) -> BenchResult | None:
    print(f"quick bench {label} …", flush=True)
    try:
        return await quick_bench(monitor.host, await monitor.api_client())
    except (BenchError, TransportError, ValueError) as exc:
        print(f"gb10dash: quick bench {label} failed: {exc}", file=sys.stderr)
        return None


class RebuildHooks(ActionHooks):
    def __init__(self, *, yes: bool, accept_flag_rewrite: bool, bench: bool, revert_on_regression: bool):
        self.yes, self.accept_flag_rewrite = yes, accept_flag_rewrite
        self.bench, self.revert_on_regression = bench, revert_on_regression
        self.before: BenchResult | None = None

    async def before_run(self, monitor: HostMonitor, plan: Plan) -> None:
        if self.bench and switches_build(plan):
            self.before = await _bench(monitor, "before, on the running build")

    async def follow_up(self, monitor: HostMonitor, plan: Plan, result: PlanResult) -> tuple[Plan, bool] | None:
        follow = await rewrite_follow_up(monitor.transport, monitor.host, plan, result)
        return (follow, self.accept_flag_rewrite) if follow is not None else None

    async def after_run(self, monitor: HostMonitor, plan: Plan, result: PlanResult) -> int | None:
        if not result.ok or self.before is None:
            return None
        after = await _bench(monitor, "after, on the new build")
        check = BeforeAfter(self.before, after, commits=commits_of(result))
        print("regression check (quick bench):")
        print("\n".join(check.table()))
        if not check.dropped:
            return None
        revert = await prepare_revert(monitor.transport, monitor.host, _build_dir(monitor))
        if (
            confirm(
                revert,
                self.yes and self.revert_on_regression,
                question="Revert to the previous build now?",
                refuse_hint="gb10dash rebuild HOST --revert goes back",
            )
            is not None
        ):
            return EXIT_FAILED
        report(
            await run_plan(
                revert, monitor.transport, monitor.api_client, unit=monitor.host.unit, on_progress=ProgressPrinter()
            )
        )
        return EXIT_FAILED


def _build_dir(monitor: HostMonitor) -> str:
    host = monitor.host
    return remote_path(host.build_dir, local=host.transport == "local")


async def rebuild_command(
    config: Config,
    host_name: str,
    *,
    yes: bool,
    restart: bool = True,
    arch: str | None = None,
    jobs: int | None = None,
    accept_flag_rewrite: bool = False,
    bench: bool = True,
    revert_on_regression: bool = False,
) -> int:
    """The plan needs facts from the host (arch, ExecStart, build dir): run_action connects first."""

    async def make(monitor: HostMonitor) -> Plan:
        return await prepare_rebuild(
            monitor.host, monitor.transport, monitor.api_client, restart=restart, arch_override=arch, jobs=jobs
        )

    hooks = RebuildHooks(
        yes=yes, accept_flag_rewrite=accept_flag_rewrite, bench=bench, revert_on_regression=revert_on_regression
    )
    return await run_action(config, host_name, make, yes=yes, hooks=hooks)


async def revert_command(config: Config, host_name: str, *, yes: bool) -> int:
    async def make(monitor: HostMonitor) -> Plan:
        return await prepare_revert(monitor.transport, monitor.host, _build_dir(monitor))

    return await run_action(config, host_name, make, yes=yes)
