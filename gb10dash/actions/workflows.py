"""Each action once, for every front end: restart, swap, rebuild (with the regression check, the
renamed-flags follow-up and the revert offer), revert, drop caches and recover. A workflow plans from
what the host says, asks the port to confirm, runs the plan through the executor (one action per
host: the runner's lock), reports, and offers what follows. It talks only to its Port (port.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.build_switch import prepare_revert
from gb10dash.actions.drop_caches import plan_drop_caches
from gb10dash.actions.executor import PlanResult, cancelled_result
from gb10dash.actions.plan import Plan
from gb10dash.actions.port import Ask, Level, Outcome, Port
from gb10dash.actions.rebuild import commits_of, prepare_rebuild, remote_path, rewrite_follow_up, switches_build
from gb10dash.actions.recover import close_unfinished, find_interrupted, plan_recovery
from gb10dash.actions.regression import BeforeAfter, quick_bench
from gb10dash.actions.restart import DEFAULT_LOAD_TIMEOUT_S, plan_restart
from gb10dash.actions.runner import ActionBusy, host_lock, run_plan
from gb10dash.actions.swap_prepare import prepare_swap, share_models
from gb10dash.actions.watch_only import require_unit
from gb10dash.bench.errors import BenchError
from gb10dash.bench.report import table as bench_table
from gb10dash.bench.report import verdict as bench_verdict
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.collectors.memory import collect_meminfo
from gb10dash.config import HostConfig
from gb10dash.core.memsplit import memory_split
from gb10dash.transport.base import Transport, TransportError

if TYPE_CHECKING:  # the runner (and httpx with it) only when a bench runs
    from gb10dash.bench.runner import BenchResult

#: what can go wrong while a plan is made from what the host says (each is said, nothing changes)
PLANNING_ERRORS = (TransportError, ValueError, ActionBusy)


class HostLink(Protocol):
    """A connected host (HostMonitor is one): its config, its transport, its API client."""

    host: HostConfig
    transport: Transport

    async def api_client(self) -> LlamaClient: ...


class Workflows:
    def __init__(self, link: HostLink, port: Port):
        self.link, self.port = link, port
        self.host = link.host

    # -- the actions -------------------------------------------------------------------
    async def restart(self, *, load_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S) -> Outcome:
        async def make() -> Plan:
            return plan_restart(self.host, load_timeout_s=load_timeout_s)

        return await self._plan_and_run(make, "cannot restart")

    async def swap(self, *, ctx: int | None = None, timeout_s: float = 300.0, force: bool = False) -> Outcome:
        """The models on the share (or the router's), the port chooses one, the fit-checked plan."""
        host, link = self.host, self.link
        try:
            require_unit(host, "the model swap")
            self.port.say(f"listing the models on {host.model_share} …", title=host.name)
            candidates = await share_models(link.transport, host, client=link.api_client)
        except PLANNING_ERRORS as exc:
            self.port.say(str(exc), title=f"{host.name}: cannot swap", level="error")
            return Outcome.FAILED
        if not candidates:
            self.port.say(f"no GGUF models found on {host.model_share}", title=host.name, level="warning")
            return Outcome.FAILED
        try:
            chosen = await self.port.choose_model(host.name, host.model_share, candidates)
        except ValueError as exc:  # the command line's MODEL names none, or one that is not offered
            self.port.say(str(exc), title=f"{host.name}: cannot swap", level="error")
            return Outcome.FAILED
        if chosen is None:
            return Outcome.DECLINED

        async def make() -> Plan:
            return await prepare_swap(
                link.transport, host, chosen, ctx=ctx, timeout_s=timeout_s, allow_disabled=force, client=link.api_client
            )

        return await self._plan_and_run(make, "cannot plan the swap")

    async def rebuild(
        self, *, restart: bool = True, arch: str | None = None, jobs: int | None = None, bench: bool = True
    ) -> Outcome:
        """Build for the host's arch; with a switch, the quick bench before and after (a drop in gen
        tok/s offers the revert); a build that renamed flags offers the rewritten ExecStart."""
        link = self.link

        async def make() -> Plan:
            return await prepare_rebuild(
                self.host, link.transport, link.api_client, restart=restart, arch_override=arch, jobs=jobs
            )

        plan = await self._plan(make, "cannot plan the rebuild")
        if plan is None:
            return Outcome.FAILED
        if not await self.port.confirm(plan, f"{plan.action} on {self.host.name}?", Ask.PLAN):
            return Outcome.DECLINED
        before = await self._bench("before, on the running build") if bench and switches_build(plan) else None
        result = await self._execute(plan)
        if isinstance(result, Outcome):
            return result
        self.port.report(plan, result)
        if not result.ok:
            switched = await self._offer_flag_rewrite(plan, result)  # the switch with the rewritten ExecStart
            if isinstance(switched, Outcome) or not switched.ok:
                return switched if isinstance(switched, Outcome) else Outcome.FAILED
        if before is None:
            return Outcome.DONE
        check = BeforeAfter(before, await self._bench("after, on the new build"), commits=commits_of(result))
        self.port.say(
            "\n".join(check.table()),
            title="regression check (quick bench)",
            level="warning" if check.dropped else "information",
        )
        if not check.dropped:
            return Outcome.DONE
        await self.revert(question=f"gen tok/s dropped on {self.host.name}: revert to the previous build?")
        return Outcome.FAILED

    async def revert(self, *, question: str | None = None) -> Outcome:
        """Back to the previous build (B.previous), with the drop-in saved beside it."""
        host, link = self.host, self.link

        async def make() -> Plan:
            build_dir = remote_path(host.build_dir, local=host.transport == "local")
            return await prepare_revert(link.transport, host, build_dir)

        return await self._plan_and_run(make, "cannot revert the build", question, Ask.REVERT if question else Ask.PLAN)

    async def drop_caches(self) -> Outcome:
        async def make() -> Plan:
            split = memory_split(await collect_meminfo(self.link.transport), None)
            return plan_drop_caches(self.host, split.cache_kib if split else None)

        return await self._plan_and_run(make, "cannot drop the caches")

    async def recover(self, audit: AuditLog | None = None) -> Outcome:
        """Undo what an interrupted plan left on the host (its marker there), and close this
        workstation's records of plans that have nothing left to undo."""
        host, audit = self.host, audit or AuditLog()
        try:
            with host_lock(host.name):  # no plan of this workstation runs on the host while its records are read
                found = await find_interrupted(host, self.link.transport, audit)
        except (TransportError, ActionBusy) as exc:
            self.port.say(str(exc), title=f"{host.name}: cannot look for an interrupted plan", level="error")
            return Outcome.FAILED
        if found.marker_error is not None:
            self.port.say(f"{found.marker_error}; look at it and remove it by hand", title=host.name, level="error")
            return Outcome.FAILED
        if not found.any:
            self.port.say(f"nothing to recover on {host.name}: no plan marker on the host, no unended plan here")
            return Outcome.DONE
        for line in close_unfinished(found, audit):
            self.port.say(line, title=f"{host.name}: record closed")
        if found.pending is None:
            return Outcome.DONE
        pending = found.pending

        async def make() -> Plan:
            return plan_recovery(pending, host.name)

        return await self._plan_and_run(make, "cannot plan the recovery", f"Undo the interrupted {pending.action}?")

    async def bench(self) -> Outcome:
        """The quick benchmark against the host's baseline, recorded in the bench history."""
        self.port.say("quick benchmark started", title=self.host.name)
        try:
            result = await quick_bench(self.host, await self.link.api_client())
        except (BenchError, TransportError, ValueError) as exc:
            self.port.say(str(exc), title=f"{self.host.name}: benchmark failed", level="error")
            return Outcome.FAILED
        level: Level = "warning" if result.regression else "information"
        self.port.say("\n".join(bench_table(result)), title=f"{self.host.name}: {bench_verdict(result)}", level=level)
        return Outcome.DONE

    # -- the shape every action shares ---------------------------------------------------
    async def _plan(self, make: Callable[[], Awaitable[Plan]], cannot: str) -> Plan | None:
        try:
            return await make()
        except PLANNING_ERRORS as exc:
            self.port.say(str(exc), title=f"{self.host.name}: {cannot}", level="error")
            return None

    async def _plan_and_run(
        self, make: Callable[[], Awaitable[Plan]], cannot: str, question: str | None = None, ask: Ask = Ask.PLAN
    ) -> Outcome:
        plan = await self._plan(make, cannot)
        if plan is None:
            return Outcome.FAILED
        return await self.confirm_and_run(plan, question, ask)

    async def confirm_and_run(self, plan: Plan, question: str | None = None, ask: Ask = Ask.PLAN) -> Outcome:
        """Any plan: confirmed, run, reported."""
        question = question or f"{plan.action} on {self.host.name}?"
        if not await self.port.confirm(plan, question, ask):
            return Outcome.DECLINED
        result = await self._execute(plan)
        if isinstance(result, Outcome):
            return result
        self.port.report(plan, result)
        return Outcome.DONE if result.ok else Outcome.FAILED

    async def _execute(self, plan: Plan) -> PlanResult | Outcome:
        """Run the plan: its result, or FAILED when it could not start, STOPPED when it was stopped and
        the port has dealt with that."""
        link = self.link
        with self.port.running(plan):
            try:
                return await run_plan(
                    plan, link.transport, link.api_client, unit=self.host.unit, on_progress=self.port.progress
                )
            except (ActionBusy, TransportError) as exc:
                self.port.say(str(exc), title=f"{plan.action} not started", level="error")
                return Outcome.FAILED
            except asyncio.CancelledError as exc:
                if self.port.stopped(plan, cancelled_result(exc)):
                    return Outcome.STOPPED
                raise

    async def _bench(self, label: str) -> BenchResult | None:
        self.port.stage(f"quick bench {label} (regression check)")
        try:
            return await quick_bench(self.host, await self.link.api_client())
        except (BenchError, TransportError, ValueError) as exc:
            self.port.say(str(exc), title=f"{self.host.name}: quick bench {label} failed", level="warning")
            return None

    async def _offer_flag_rewrite(self, plan: Plan, result: PlanResult) -> PlanResult | Outcome:
        """The new build renamed flags of the unit's ExecStart: offer the rewritten one as a drop-in
        (the follow-up's result, reported; or why nothing ran)."""
        try:
            follow = await rewrite_follow_up(self.link.transport, self.host, plan, result)
        except (TransportError, ValueError) as exc:
            self.port.say(str(exc), title=f"{self.host.name}: cannot offer the rewritten ExecStart", level="error")
            return Outcome.FAILED
        if follow is None:
            return Outcome.FAILED
        question = f"The new build renamed flags: switch {self.host.name} with this ExecStart?"
        if not await self.port.confirm(follow, question, Ask.FOLLOW_UP):
            return Outcome.DECLINED
        switched = await self._execute(follow)
        if not isinstance(switched, Outcome):
            self.port.report(follow, switched)
        return switched
