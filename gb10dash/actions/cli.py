"""The actions on the command line: same plans as the dashboard keys, confirmed unless --yes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

from gb10dash.actions.drop_caches import plan_drop_caches
from gb10dash.actions.executor import PlanResult, Progress, cancelled_result
from gb10dash.actions.interrupt import PlanInterrupter
from gb10dash.actions.plan import Plan
from gb10dash.actions.restart import plan_restart
from gb10dash.actions.runner import ActionBusy, run_plan
from gb10dash.actions.swap_prepare import find_candidate, prepare_swap, share_models
from gb10dash.collectors.memory import collect_meminfo
from gb10dash.config import Config
from gb10dash.memsplit import memory_split
from gb10dash.monitor import HostMonitor
from gb10dash.transport.base import TransportError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 3  # a signal stopped the plan; what it had changed was undone
EXIT_NOT_UNDONE = 4  # a signal stopped the plan and the undo failed: `gb10dash recover HOST`


def say(text: str, *, error: bool = False) -> None:
    """Print, but never fail: after SIGHUP the terminal is gone, and an undo must not stop for that."""
    try:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)
    except OSError:
        pass


class ProgressPrinter:
    """Prints the executor's progress: each step, its outcome, waits every few seconds, and a
    streamed build at each new percentage with the line that reached it."""

    def __init__(self) -> None:
        self.percent: int | None = None

    def __call__(self, progress: Progress) -> None:
        if progress.status == "progress" and progress.percent is not None:
            if progress.percent != self.percent:
                self.percent = progress.percent
                say(f"      [{progress.percent:3d}%] {progress.detail}")
            return
        if progress.status == "started":
            self.percent = None
        print_progress(progress)


def print_progress(progress: Progress) -> None:
    if progress.status == "started":
        say(f"[{progress.step}/{progress.total}] {progress.title}: {progress.detail}")
    elif progress.status == "progress":
        say(f"      … {progress.detail}")
    elif progress.status == "undo":
        say(f"  undo: {progress.title}: {progress.detail}")
    else:
        detail = f" — {progress.detail}" if progress.detail else ""
        say(f"      {progress.status} in {progress.elapsed_s:.1f} s{detail}")


def confirm(
    plan: Plan, yes: bool, *, question: str = "Run this plan?", refuse_hint: str = "add --yes to run the plan"
) -> int | None:
    """None to go ahead, else the exit code."""
    print("\n".join(plan.describe()))
    if yes:
        return None
    if not sys.stdin.isatty():
        print(f"gb10dash: not confirmed (no terminal to ask on); {refuse_hint}", file=sys.stderr)
        return EXIT_USAGE
    answer = input(f"{question} [y/N] ").strip().lower()
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


def on_signal(name: str, first: bool) -> None:
    if first:
        say(
            f"gb10dash: {name}: stopping the plan and undoing what it changed (a second signal does not "
            f"cut the undo short)",
            error=True,
        )
    else:
        say(f"gb10dash: {name}: already undoing; it ends when the undo does", error=True)


async def run_interruptible(plan: Plan, monitor: HostMonitor) -> PlanResult | int:
    """Run the plan; a signal (SIGTERM, SIGHUP, SIGINT) undoes it and gives the exit code instead."""
    with PlanInterrupter(on_signal) as interrupter:
        try:
            return await run_plan(
                plan, monitor.transport, monitor.api_client, unit=monitor.host.unit, on_progress=ProgressPrinter()
            )
        except asyncio.CancelledError as exc:
            if interrupter.signal is None:
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            result = cancelled_result(exc)
            if result is None or not result.undo_failed:
                say(
                    f"interrupted by {interrupter.signal}: {plan.action} on {plan.host} stopped"
                    + (
                        "; what it had changed was undone"
                        if result is not None and result.rolled_back
                        else "; there was nothing to undo"
                    ),
                    error=True,
                )
                return EXIT_INTERRUPTED
            say(
                f"interrupted by {interrupter.signal}, and the undo failed: run `gb10dash recover {plan.host}`",
                error=True,
            )
            return EXIT_NOT_UNDONE


PlanMaker = Callable[[HostMonitor], Awaitable[Plan]]


class ActionHooks:
    """What an action does around its plan on the command line (rebuild: the quick bench before and
    after, the renamed-flags follow-up). The defaults do nothing."""

    async def before_run(self, monitor: HostMonitor, plan: Plan) -> None:
        """After the operator confirmed, before the first step."""

    async def follow_up(self, monitor: HostMonitor, plan: Plan, result: PlanResult) -> tuple[Plan, bool] | None:
        """After a failed plan: another plan to offer, and whether --yes may run it unasked."""
        return None

    async def after_run(self, monitor: HostMonitor, plan: Plan, result: PlanResult) -> int | None:
        """After the last plan: an exit code that overrides the plan's own, or None."""
        return None


async def run_action(
    config: Config, host_name: str, make_plan: PlanMaker, *, yes: bool, hooks: ActionHooks | None = None
) -> int:
    """Connect, build the plan from what the host says, show it, confirm, run it; when it fails
    and the hooks offer a follow-up plan, report, confirm, run that."""
    hooks = hooks or ActionHooks()
    host = config.host(host_name)
    monitor = HostMonitor(host, config.ssh)
    try:
        await monitor.transport.connect()
        plan = await make_plan(monitor)
        refused = confirm(plan, yes)
        if refused is not None:
            return refused
        await hooks.before_run(monitor, plan)
        result = await run_interruptible(plan, monitor)
        if isinstance(result, int):
            return result
        offer = await hooks.follow_up(monitor, plan, result) if not result.ok else None
        if offer is not None:
            report(result)
            plan, allowed = offer
            refused = confirm(
                plan,
                yes and allowed,
                question="Apply this follow-up?",
                refuse_hint="rerun with --yes --accept-flag-rewrite to apply it",
            )
            if refused is not None:
                return refused
            result = await run_interruptible(plan, monitor)
            if isinstance(result, int):
                return result
        code = report(result)
        override = await hooks.after_run(monitor, plan, result)
    except (TransportError, ActionBusy, ValueError) as exc:
        print(f"gb10dash: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await monitor.close()
    return code if override is None else override


async def restart_command(config: Config, host_name: str, *, yes: bool, timeout_s: float) -> int:
    async def make(monitor: HostMonitor) -> Plan:
        return plan_restart(monitor.host, load_timeout_s=timeout_s)

    return await run_action(config, host_name, make, yes=yes)


async def swap_command(
    config: Config, host_name: str, model: str, *, ctx: int | None, yes: bool, timeout_s: float, force: bool
) -> int:
    async def make(monitor: HostMonitor) -> Plan:
        candidate = find_candidate(
            await share_models(monitor.transport, monitor.host, client=monitor.api_client), model
        )
        if not candidate.enabled:
            print(
                f"gb10dash: {candidate.display_name} is not offered: {candidate.reason}"
                + (
                    "; --force given, trying anyway (a failed load rolls back)"
                    if force
                    else " (use --force to try anyway)"
                ),
                file=sys.stderr,
            )
            if not force:
                raise ValueError(f"{candidate.display_name}: {candidate.reason}")
        return await prepare_swap(
            monitor.transport,
            monitor.host,
            candidate,
            ctx=ctx,
            timeout_s=timeout_s,
            allow_disabled=force,
            client=monitor.api_client,
        )

    return await run_action(config, host_name, make, yes=yes)


async def drop_caches_command(config: Config, host_name: str, *, yes: bool) -> int:
    async def make(monitor: HostMonitor) -> Plan:
        split = memory_split(await collect_meminfo(monitor.transport), None)
        return plan_drop_caches(monitor.host, split.cache_kib if split else None)

    return await run_action(config, host_name, make, yes=yes)
