"""The actions on the command line: same plans as the dashboard keys, confirmed unless --yes."""

from __future__ import annotations

import sys

from gb10dash.actions.executor import PlanResult, Progress
from gb10dash.actions.plan import Plan
from gb10dash.actions.restart import plan_restart
from gb10dash.actions.runner import ActionBusy, run_plan
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


async def run_action(config: Config, host_name: str, plan: Plan, *, yes: bool) -> int:
    host = config.host(host_name)
    refused = confirm(plan, yes)
    if refused is not None:
        return refused
    monitor = HostMonitor(host, config.ssh)
    try:
        await monitor.transport.connect()
        result = await run_plan(plan, monitor.transport, monitor.api_client, unit=host.unit,
                                on_progress=print_progress)
    except (TransportError, ActionBusy) as exc:
        print(f"gb10dash: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await monitor.close()
    return report(result)


async def restart_command(config: Config, host_name: str, *, yes: bool, timeout_s: float) -> int:
    return await run_action(config, host_name, plan_restart(config.host(host_name), load_timeout_s=timeout_s),
                            yes=yes)
