"""The one executor: runs a plan's steps on a host, reports progress, undoes on failure, audits.

Progress goes to a callback (the TUI posts it as messages, the CLI prints it); the
result says what failed and carries the unit's last journal lines when the service did.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from gb10dash.actions.audit import AuditLog, PlanRecord, StepRecord, stdin_fingerprint
from gb10dash.actions.build_checks import check_build_arch
from gb10dash.actions.llama_help import check_flags_step
from gb10dash.actions.outcome import Progress, StepFailed, StepStatus
from gb10dash.actions.pending import PendingPlan, PlanMarker, undo_steps
from gb10dash.actions.plan import ROUTER_STEP_KINDS, Plan, Step, StepKind
from gb10dash.actions.startup import journal_reason, startup_failure
from gb10dash.actions.streamed import StreamedOutput, streamed_argv
from gb10dash.actions.sudoers import (
    allows,
    parse_sudo_list,
    sudo_commands,
    sudoers_rule,
)
from gb10dash.collectors import systemd
from gb10dash.collectors.journal import journalctl_argv, parse_journal_line
from gb10dash.collectors.llama import HealthState, model_file_name
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.transport.base import Transport, TransportError

SUDOERS_HINT = (
    "sudo needs a password here. The rule this step needs: `{rule}`; `gb10dash sudoers` prints "
    "every rule gb10dash's plans need on each host (install them with `visudo -f /etc/sudoers.d/gb10dash`)"
)
T = TypeVar("T")
_SUDO_USER = re.compile(r"^User (\S+) may run ", re.M)
SHOWN_LINES = 6  # a streamed step's last lines in each progress report
PROGRESS_EVERY_S = 0.25  # at most this often without a new percentage
UNIT_CHECK_S = 1.0  # how often a wait for the model asks systemd whether the server is still there


@dataclass(slots=True)
class PlanResult:
    ok: bool
    record: PlanRecord
    error: str | None = None
    rolled_back: bool = False
    journal: list[str] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    cancelled: bool = False
    failed_step: int | None = None  # 1-based index of the step that failed
    rewritten_exec_start: tuple[str, ...] | None = None  # CHECK_FLAGS: an ExecStart the new binary takes

    @property
    def undo_failed(self) -> bool:
        """An undo ran and did not finish: the host may be half-changed (`gb10dash recover` finishes it)."""
        return self.record.result.endswith("(rollback failed)")


class Refused(StepFailed):
    """The plan was refused before it changed anything (preflight, an unrecovered earlier plan)."""


class Executor:
    def __init__(
        self,
        transport: Transport,
        client: Callable[[], Awaitable[LlamaClient]],
        *,
        unit: str,
        audit: AuditLog | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        poll_s: float = 0.5,
        user: str = "llm-agent",
    ):
        self.transport, self.client, self.unit = transport, client, unit
        self.audit = audit or AuditLog()
        self.on_progress = on_progress or (lambda _p: None)
        self.poll_s, self.user = poll_s, user

    async def execute(self, plan: Plan) -> PlanResult:
        record = PlanRecord(plan.host, plan.action, plan.summary, recovers=plan.recovers)
        result = PlanResult(ok=False, record=record)
        done: list[Step] = []
        started = time.monotonic()
        marker = PlanMarker(self.transport, self.unit)
        marked = False
        self.audit.started(record, plan)  # write-ahead: on disk before anything is asked of the host
        try:
            await self._preflight(plan)
            await self._refuse_if_pending(plan, marker)
            if undo_steps(plan):  # what the undo needs, on the host too: any workstation can recover it
                await marker.write(PendingPlan.of(plan, record.plan_id, self.unit, record.started_at))
                marked = True
            for index, step in enumerate(plan.steps, 1):
                result.failed_step = index
                await self._step(index, len(plan.steps), step, record, result)
                done.append(step)
            result.ok, result.failed_step, record.result = True, None, "ok"
        except (StepFailed, TransportError) as exc:
            result.error = str(exc)
            result.rewritten_exec_start = getattr(exc, "rewritten_exec_start", None)
            record.result, record.error = ("refused" if isinstance(exc, Refused) else "failed"), str(exc)
            result.journal = [] if isinstance(exc, Refused) else await self._journal_tail()
            if any(step.undo for step in done):
                result.rolled_back = await self._undo(done, len(plan.steps), record)
                record.result = "rolled back" if result.rolled_back else "failed (rollback failed)"
        except asyncio.CancelledError as exc:
            # the running step's command is already gone (its stream or run was cancelled with it);
            # undo what the completed steps changed — a second cancel (signal) does not cut it short —
            # then stop. The reason is the cancel's message (the CLI passes the signal's name).
            why = str(exc.args[0]) if exc.args and exc.args[0] else "cancelled by the operator"
            result.cancelled, result.error = True, why
            record.result, record.error = "cancelled", why
            if any(step.undo for step in done):
                result.rolled_back = await finish_despite_cancel(self._undo(done, len(plan.steps), record))
                record.result = "cancelled, rolled back" if result.rolled_back else "cancelled (rollback failed)"
            exc.plan_result = result  # type: ignore[attr-defined]  # what the canceller reports (cancelled_result)
            raise
        finally:
            record.duration_s = round(time.monotonic() - started, 3)
            if marked and (result.ok or result.rolled_back or not any(step.undo for step in done)):
                await finish_despite_cancel(self._remove_marker(marker, record))
            self.audit.append(record)
            if plan.recovers and result.ok:  # the interrupted plan is undone: its marker goes, its record closes
                if await finish_despite_cancel(self._remove_marker(marker, record)):
                    self.audit.note(
                        "recovered",
                        plan.recovers,
                        plan.host,
                        f"undone by the recovery {record.plan_id}",
                        by=record.plan_id,
                    )
        return result

    async def _refuse_if_pending(self, plan: Plan, marker: PlanMarker) -> None:
        """An earlier plan that never ended left its marker: nothing runs until it is recovered
        (except the recovery of that very plan)."""
        try:
            pending = await marker.read()
        except ValueError as exc:
            raise Refused(
                f"the plan marker on the host is unreadable ({exc}); nothing was changed. Look at "
                f"it, then remove it by hand"
            ) from None
        if pending is not None and pending.plan_id != plan.recovers:
            raise Refused(
                f"{plan.host}: the {pending.describe()}; nothing was changed. Undo it first: "
                f"`gb10dash recover {plan.host}`"
            )

    async def _remove_marker(self, marker: PlanMarker, record: PlanRecord) -> bool:
        try:
            await marker.remove()
        except TransportError as exc:
            record.error = f"{record.error}; {exc}" if record.error else str(exc)
            return False
        return True

    async def _step(self, index: int, total: int, step: Step, record: PlanRecord, result: PlanResult) -> None:
        size, digest = stdin_fingerprint(step.stdin)
        entry = StepRecord(step.title, step.command_line(), "running", stdin_bytes=size, stdin_sha256=digest)
        record.steps.append(entry)
        self.on_progress(Progress(index, total, step.title, StepStatus.STARTED, step.command_line()))
        began = time.monotonic()
        try:
            entry.exit_status, entry.detail = await self._run(index, total, step, began)
            entry.status = "ok"
        except (StepFailed, TransportError) as exc:
            entry.status, entry.detail = "failed", str(exc)
            entry.exit_status = getattr(exc, "exit_status", None)
            raise
        finally:
            entry.duration_s = round(time.monotonic() - began, 3)
            result.durations[step.title] = entry.duration_s
            self.audit.step_ended(record, entry)
            ended = {"ok": StepStatus.OK, "failed": StepStatus.FAILED}.get(entry.status, StepStatus.STOPPED)
            self.on_progress(Progress(index, total, step.title, ended, entry.detail, entry.duration_s))

    async def _run(self, index: int, total: int, step: Step, began: float) -> tuple[int | None, str]:
        if step.kind in ROUTER_STEP_KINDS:  # router mode: the model swap goes through its API
            from gb10dash.actions.router_swap import run_router_step

            return await run_router_step(self, index, total, step, began)
        if step.kind is StepKind.RUN and step.streamed:
            return await self._run_streamed(index, total, step, began)
        if step.kind is StepKind.RUN:
            done = await self.transport.run(step.argv, timeout=step.timeout_s, input=step.stdin)
            if not done.ok:
                raise StepFailed(self._explain(step, done.exit_status, done.stderr or done.stdout), done.exit_status)
            # the last output line (e.g. a commit id) — not for stdin steps: `tee` echoes what it writes
            return done.exit_status, _last_line(done.stdout) if step.stdin is None else ""
        if step.kind is StepKind.CHECK_ARCH:
            done = await self.transport.run(step.argv, timeout=step.timeout_s)
            problem = check_build_arch(done.stdout, None if step.expect == "cpu" else step.expect)
            if problem:
                raise StepFailed(problem, done.exit_status)
            return done.exit_status, f"built for {step.expect}"
        if step.kind is StepKind.CHECK_FLAGS:
            done = await self.transport.run(step.argv, timeout=step.timeout_s)
            problems, rewritten = check_flags_step(done.stdout + done.stderr, step.expect or "")
            if problems:
                raise StepFailed(problems, done.exit_status, rewritten)
            return done.exit_status, "every flag accepted"
        if step.kind is StepKind.WAIT_HEALTHY:
            return None, await self._wait_healthy(index, total, step, began)
        return None, await self._expect_model(step)

    async def _run_streamed(self, index: int, total: int, step: Step, began: float) -> tuple[int | None, str]:
        """Run a long step as a stream: progress from `[ NN%]` lines with the last few lines, at most
        a few updates a second; leaving (timeout, cancel) kills the command's whole process group."""
        output = StreamedOutput(keep=max(step.tail_lines, SHOWN_LINES))
        last_shown = 0.0
        try:
            async with asyncio.timeout(step.timeout_s):
                async for line in self.transport.stream(streamed_argv(step.argv)):
                    changed = output.feed(line)
                    now = time.monotonic()
                    if changed or now - last_shown >= PROGRESS_EVERY_S:
                        last_shown = now
                        self.on_progress(
                            Progress(
                                index,
                                total,
                                step.title,
                                StepStatus.PROGRESS,
                                output.last(1)[0][:160] if output.tail else "",
                                now - began,
                                output.percent,
                                tuple(output.last(SHOWN_LINES)),
                            )
                        )
        except TimeoutError:
            raise StepFailed(
                f"`{step.command_line()}` timed out after {step.timeout_s:g} s (killed)"
                + _joined(output.last(step.tail_lines))
            ) from None
        if output.exit_status is None:
            raise TransportError(
                f"`{step.command_line()}` ended without an exit status (killed or disconnected)"
                + _joined(output.last(step.tail_lines))
            )
        if output.exit_status != 0:
            raise StepFailed(self._explain(step, output.exit_status, "\n".join(output.tail)), output.exit_status)
        return output.exit_status, f"{output.line_count} output lines" + (
            f", {output.percent}%" if output.percent is not None else ""
        )

    def _explain(self, step: Step, status: int, output: str) -> str:
        last = [line for line in output.strip().splitlines() if line.strip()][-step.tail_lines :]
        joined = " / ".join(last) if step.tail_lines <= 3 else "\n" + "\n".join(last)
        message = f"`{step.command_line()}` exited {status}" + (": " + joined if last else "")
        if "a password is required" in output or "a terminal is required" in output:
            message += ". " + SUDOERS_HINT.format(rule=sudoers_rule(self.user, step.argv))
        return message

    async def _wait_healthy(self, index: int, total: int, step: Step, began: float) -> str:
        deadline = began + step.timeout_s
        client = await self.client()
        last_unit_check = -1e9
        started_pid: int | None = None
        while time.monotonic() < deadline:
            if time.monotonic() - last_unit_check >= UNIT_CHECK_S:  # first at once: a start may fail at once
                last_unit_check = time.monotonic()
                unit = await systemd.collect_unit(self.transport, self.unit)
                started_pid = started_pid or (unit.main_pid if unit.active_state == "active" else None)
                failure = startup_failure(unit, started_pid)
                if failure is not None:
                    reason = journal_reason(await self._journal_tail(40))
                    raise StepFailed(failure + (f"; its log says: {reason}" if reason else ""))
            health = await client.health()
            elapsed = time.monotonic() - began
            if health.state is HealthState.OK:
                return f"healthy after {elapsed:.1f} s"
            word = "loading (503)" if health.state is HealthState.LOADING else "starting"
            self.on_progress(
                Progress(index, total, step.title, StepStatus.PROGRESS, f"{word} {elapsed:.0f} s", elapsed)
            )
            await asyncio.sleep(self.poll_s)
        raise StepFailed(f"not healthy after {step.timeout_s:g} s")

    async def _expect_model(self, step: Step) -> str:
        client = await self.client()
        try:
            models = await client.models()
        except ValueError as exc:
            raise StepFailed(f"/v1/models: {exc}") from None
        served = [model_file_name(m.id) for m in models]
        if step.expect not in served:
            raise StepFailed(f"/v1/models serves {', '.join(served) or 'nothing'}, expected {step.expect}")
        return f"serving {step.expect}"

    async def _undo(self, done: list[Step], total: int, record: PlanRecord) -> bool:
        ok = True
        for step in reversed(done):
            for undo in step.undo:
                self.on_progress(Progress(0, total, undo.title, StepStatus.UNDO, undo.command_line()))
                size, digest = stdin_fingerprint(undo.stdin)
                entry = StepRecord(
                    f"undo: {undo.title}", undo.command_line(), "undone", stdin_bytes=size, stdin_sha256=digest
                )
                record.steps.append(entry)
                began = time.monotonic()
                try:
                    entry.exit_status, entry.detail = await self._run(0, total, undo, began)
                except (StepFailed, TransportError) as exc:
                    ok, entry.status, entry.detail = False, "undo-failed", str(exc)
                entry.duration_s = round(time.monotonic() - began, 3)
                self.audit.step_ended(record, entry)
        return ok

    async def _preflight(self, plan: Plan) -> None:
        """Before anything changes: every command the plan (and its undo) runs with `sudo -n` must be in
        what `sudo -n -l` lists for the login, or the plan stops here, naming the missing rules."""
        needed = sudo_commands([plan])
        if not needed:
            return
        listed = await self.transport.run(["sudo", "-n", "-l"], timeout=30)
        login = _SUDO_USER.search(listed.stdout)
        if login:  # the rules named in messages are for the login sudo saw, not a default
            self.user = login.group(1)
        if not listed.ok:
            who = await self.transport.run(["id", "-un"], timeout=10)
            self.user = who.stdout.strip() if who.ok and who.stdout.strip() else self.user
            why = _last_line(listed.stderr or listed.stdout) or f"exit {listed.exit_status}"
            raise Refused(
                f"sudo on the host allows nothing without a password ({why}), so nothing was "
                f"changed. This plan needs: {self._rules(needed)}. `gb10dash sudoers` prints every "
                f"rule the plans need"
            )
        try:
            allowed = parse_sudo_list(listed.stdout)
        except ValueError as exc:
            raise Refused(f"`sudo -n -l` on the host: {exc}") from None
        missing = [argv for argv in needed if not allows(allowed, argv)]
        if missing:
            raise Refused(
                f"sudo on the host would refuse {len(missing)} of this plan's commands (forward or "
                f"undo), so nothing was changed. Missing: {self._rules(missing)}. `gb10dash sudoers` "
                f"prints every rule the plans need"
            )

    def _rules(self, commands: list[tuple[str, ...]]) -> str:
        return "; ".join(f"`{sudoers_rule(self.user, argv)}`" for argv in commands)

    async def _journal_tail(self, lines: int = 20) -> list[str]:
        try:
            done = await self.transport.run(
                journalctl_argv(self.unit, follow=False, after_cursor=None, lines=lines), timeout=10
            )
        except TransportError:
            return []
        entries = (parse_journal_line(line) for line in done.stdout.splitlines())
        return [entry.message for entry in entries if entry is not None]


def cancelled_result(error: asyncio.CancelledError) -> PlanResult | None:
    """The result of the plan a CancelledError cut short (undone or not), None when no plan ran."""
    return getattr(error, "plan_result", None)


async def finish_despite_cancel(work: Awaitable[T]) -> T:
    """Await work to its end even when the awaiting task is cancelled again meanwhile (a second
    signal during an undo). Each step of the work has its own timeout, so this is bounded."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # the first cancel is still the one being handled


def _joined(lines: list[str]) -> str:
    return (":\n" + "\n".join(lines)) if lines else ""


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
