"""The actions on the command line: same plans as the dashboard keys, confirmed unless --yes."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence

from gb10dash.actions.executor import PlanResult, Progress
from gb10dash.actions.interrupt import PlanInterrupter
from gb10dash.actions.models import ModelCandidate
from gb10dash.actions.outcome import StepStatus
from gb10dash.actions.plan import Plan
from gb10dash.actions.port import Ask, Level, Outcome
from gb10dash.actions.runner import ActionBusy
from gb10dash.actions.swap_prepare import find_candidate
from gb10dash.actions.workflows import Workflows
from gb10dash.config import Config
from gb10dash.core.monitor import HostMonitor
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
        if progress.status is StepStatus.PROGRESS and progress.percent is not None:
            if progress.percent != self.percent:
                self.percent = progress.percent
                say(f"      [{progress.percent:3d}%] {progress.detail}")
            return
        if progress.status is StepStatus.STARTED:
            self.percent = None
        print_progress(progress)


def print_progress(progress: Progress) -> None:
    if progress.status is StepStatus.STARTED:
        say(f"[{progress.step}/{progress.total}] {progress.title}: {progress.detail}")
    elif progress.status is StepStatus.PROGRESS:
        say(f"      … {progress.detail}")
    elif progress.status is StepStatus.UNDO:
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


_REFUSE_HINTS = {
    Ask.PLAN: "add --yes to run the plan",
    Ask.FOLLOW_UP: "rerun with --yes --accept-flag-rewrite to apply it",
    Ask.REVERT: "gb10dash rebuild HOST --revert goes back",
}


class CliPort:
    """The workflows' port on the command line: the plan printed and asked on the terminal (or --yes),
    progress and outcome printed, SIGTERM/SIGHUP/SIGINT during a plan undo it (exit 3, or 4 when the undo
    failed)."""

    def __init__(
        self,
        *,
        yes: bool,
        accept_flag_rewrite: bool = False,
        revert_on_regression: bool = False,
        model: str | None = None,
        force: bool = False,
    ):
        self.allowed = {
            Ask.PLAN: yes,
            Ask.FOLLOW_UP: yes and accept_flag_rewrite,
            Ask.REVERT: yes and revert_on_regression,
        }
        self.model, self.force = model, force
        self.code: int | None = None  # the exit code a refusal or a signal chose
        self._interrupter: PlanInterrupter | None = None
        self._printer = ProgressPrinter()

    async def confirm(self, plan: Plan, question: str, ask: Ask) -> bool:
        refused = confirm(
            plan, self.allowed[ask], question=question[:1].upper() + question[1:], refuse_hint=_REFUSE_HINTS[ask]
        )
        self.code = refused
        return refused is None

    def say(self, text: str, *, title: str = "", level: Level = "information") -> None:
        """Information, and a table whatever its level (the regression check), on stdout with the plan's
        own lines; a warning or an error line on stderr, prefixed gb10dash:."""
        if level == "information" or (level == "warning" and "\n" in text):
            say(f"{title}:{chr(10) if chr(10) in text else ' '}{text}" if title else text)
        else:
            say(f"gb10dash: {title}: {text}" if title else f"gb10dash: {text}", error=True)

    def stage(self, title: str) -> None:
        say(f"{title} …")

    def progress(self, step: Progress) -> None:
        self._printer(step)

    def report(self, plan: Plan, result: PlanResult) -> None:
        report(result)

    @contextlib.contextmanager
    def running(self, plan: Plan) -> Iterator[None]:
        with PlanInterrupter(on_signal) as interrupter:
            self._interrupter = interrupter
            try:
                yield
            finally:
                self._interrupter = None

    def stopped(self, plan: Plan, result: PlanResult | None) -> bool:
        signal_name = self._interrupter.signal if self._interrupter is not None else None
        if signal_name is None:
            return False
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        if result is not None and result.undo_failed:
            say(f"interrupted by {signal_name}, and the undo failed: run `gb10dash recover {plan.host}`", error=True)
            self.code = EXIT_NOT_UNDONE
            return True
        undone = (
            "what it had changed was undone"
            if result is not None and result.rolled_back
            else "there was nothing to undo"
        )
        say(f"interrupted by {signal_name}: {plan.action} on {plan.host} stopped; {undone}", error=True)
        self.code = EXIT_INTERRUPTED
        return True

    async def choose_model(self, host: str, share: str, candidates: Sequence[ModelCandidate]) -> ModelCandidate | None:
        assert self.model is not None, "gb10dash swap names its MODEL"
        candidate = find_candidate(candidates, self.model)
        if not candidate.enabled:
            if not self.force:
                raise ValueError(
                    f"{candidate.display_name} is not offered: {candidate.reason} (use --force to try anyway)"
                )
            self.say(
                f"{candidate.display_name} is not offered: {candidate.reason}; --force given, trying anyway "
                "(a failed load rolls back)",
                level="warning",
            )
        return candidate


Body = Callable[[Workflows], Awaitable[Outcome]]


async def on_host(config: Config, host_name: str, port: CliPort, body: Body) -> int:
    """Connect to the host, run one workflow there through the port, and give its exit code."""
    monitor = HostMonitor(config.host(host_name), config.ssh)
    try:
        await monitor.transport.connect()
        outcome = await body(Workflows(monitor, port))
    except (TransportError, ActionBusy, ValueError) as exc:
        print(f"gb10dash: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await monitor.close()
    if outcome is Outcome.DONE:
        return EXIT_OK
    if outcome is Outcome.FAILED or port.code is None:
        return EXIT_FAILED
    return port.code


async def restart_command(config: Config, host_name: str, *, yes: bool, timeout_s: float) -> int:
    return await on_host(config, host_name, CliPort(yes=yes), lambda flows: flows.restart(load_timeout_s=timeout_s))


async def swap_command(
    config: Config, host_name: str, model: str, *, ctx: int | None, yes: bool, timeout_s: float, force: bool
) -> int:
    port = CliPort(yes=yes, model=model, force=force)
    return await on_host(config, host_name, port, lambda flows: flows.swap(ctx=ctx, timeout_s=timeout_s, force=force))


async def drop_caches_command(config: Config, host_name: str, *, yes: bool) -> int:
    return await on_host(config, host_name, CliPort(yes=yes), lambda flows: flows.drop_caches())


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
    """`gb10dash rebuild HOST`: the same plan as `b`, with the quick bench before and after (the
    regression check) and the renamed-flags follow-up."""
    port = CliPort(yes=yes, accept_flag_rewrite=accept_flag_rewrite, revert_on_regression=revert_on_regression)
    return await on_host(
        config, host_name, port, lambda flows: flows.rebuild(restart=restart, arch=arch, jobs=jobs, bench=bench)
    )


async def revert_command(config: Config, host_name: str, *, yes: bool) -> int:
    return await on_host(config, host_name, CliPort(yes=yes), lambda flows: flows.revert())


async def recover_command(config: Config, host_name: str, *, yes: bool) -> int:
    """`gb10dash recover HOST`: find what an interrupted plan left on the host and undo it."""
    return await on_host(config, host_name, CliPort(yes=yes), lambda flows: flows.recover())
