"""The actions on the command line: same plans as the dashboard keys, confirmed unless --yes."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from gb10dash.actions.executor import PlanResult, Progress
from gb10dash.actions.plan import Plan
from gb10dash.actions.restart import plan_restart
from gb10dash.actions.runner import ActionBusy, run_plan
from gb10dash.actions.swap_prepare import find_candidate, prepare_swap, share_models
from gb10dash.config import Config
from gb10dash.monitor import HostMonitor
from gb10dash.transport.base import TransportError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def print_progress(progress: Progress) -> None:
    if progress.status == "started":
        print(f"[{progress.step}/{progress.total}] {progress.title}: {progress.detail}", flush=True)
    elif progress.status == "progress":
        print(f"      … {progress.detail}", flush=True)
    elif progress.status == "undo":
        print(f"  undo: {progress.title}: {progress.detail}", flush=True)
    else:
        detail = f" — {progress.detail}" if progress.detail else ""
        print(f"      {progress.status} in {progress.elapsed_s:.1f} s{detail}", flush=True)


def confirm(plan: Plan, yes: bool) -> int | None:
    """None to go ahead, else the exit code."""
    print("\n".join(plan.describe()))
    if yes:
        return None
    if not sys.stdin.isatty():
        print("gb10dash: not confirmed (no terminal to ask on); add --yes to run the plan", file=sys.stderr)
        return EXIT_USAGE
    answer = input("Run this plan? [y/N] ").strip().lower()
    return None if answer in ("y", "yes") else EXIT_FAILED


def report(result: PlanResult) -> int:
    if result.ok:
        print(f"done: {result.record.action} on {result.record.host} in {result.record.duration_s:.1f} s")
        return EXIT_OK
    print(f"FAILED: {result.error}", file=sys.stderr)
    if result.rolled_back:
        print("rolled back: the host is as it was before", file=sys.stderr)
    if result.journal:
        print("last journal lines of the service:", file=sys.stderr)
        for line in result.journal:
            print(f"  {line}", file=sys.stderr)
    return EXIT_FAILED


PlanMaker = Callable[[HostMonitor], Awaitable[Plan]]


async def run_action(config: Config, host_name: str, make_plan: PlanMaker, *, yes: bool) -> int:
    """Connect, build the plan from what the host says, show it, confirm, run it."""
    host = config.host(host_name)
    monitor = HostMonitor(host, config.ssh)
    try:
        await monitor.transport.connect()
        plan = await make_plan(monitor)
        refused = confirm(plan, yes)
        if refused is not None:
            return refused
        result = await run_plan(plan, monitor.transport, monitor.api_client, unit=host.unit,
                                on_progress=print_progress)
    except (TransportError, ActionBusy, ValueError) as exc:
        print(f"gb10dash: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await monitor.close()
    return report(result)


async def restart_command(config: Config, host_name: str, *, yes: bool, timeout_s: float) -> int:
    async def make(monitor: HostMonitor) -> Plan:
        return plan_restart(monitor.host, load_timeout_s=timeout_s)

    return await run_action(config, host_name, make, yes=yes)


async def swap_command(config: Config, host_name: str, model: str, *, ctx: int | None, yes: bool,
                       timeout_s: float, force: bool) -> int:
    async def make(monitor: HostMonitor) -> Plan:
        candidate = find_candidate(await share_models(monitor.transport, monitor.host), model)
        if not candidate.enabled:
            print(f"gb10dash: {candidate.display_name} is not offered: {candidate.reason}"
                  + ("; --force given, trying anyway (a failed load rolls back)" if force else
                     " (use --force to try anyway)"), file=sys.stderr)
            if not force:
                raise ValueError(f"{candidate.display_name}: {candidate.reason}")
        return await prepare_swap(monitor.transport, monitor.host, candidate, ctx=ctx, timeout_s=timeout_s,
                                  allow_disabled=force)

    return await run_action(config, host_name, make, yes=yes)


async def rebuild_command(config: Config, host_name: str, *, yes: bool, restart: bool = True,
                          arch: str | None = None, jobs: int | None = None) -> int:
    """The plan needs facts from the host (arch, ExecStart, build dir): run_action connects first."""
    from gb10dash.actions.rebuild import prepare_rebuild

    async def make(monitor: HostMonitor) -> Plan:
        return await prepare_rebuild(monitor.host, monitor.transport, monitor.api_client, restart=restart,
                                     arch_override=arch, jobs=jobs)

    return await run_action(config, host_name, make, yes=yes)
