"""What a workflow needs from the front end that runs it: the port. The command line implements it
with prompts and printed lines (actions/cli.py), the dashboard with screens and notifications
(ui/action_port.py). A workflow (actions/workflows.py) never knows which one it talks to."""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Sequence
from typing import Literal, Protocol

from gb10dash.actions.executor import PlanResult, Progress
from gb10dash.actions.models import ModelCandidate
from gb10dash.actions.plan import Plan

Level = Literal["information", "warning", "error"]


class Ask(enum.Enum):
    """What a confirmation is for: `--yes` on the command line answers PLAN; the other two need their
    own flag (--accept-flag-rewrite, --revert-on-regression)."""

    PLAN = "plan"
    FOLLOW_UP = "follow-up"  # the renamed-flags rewrite after a failed rebuild
    REVERT = "revert"  # the previous build after a regression


class Outcome(enum.Enum):
    DONE = "done"
    FAILED = "failed"  # it could not be planned, failed (rolled back), or a regression was found
    DECLINED = "declined"  # the operator (or the front end: read-only, busy, no terminal) said no
    STOPPED = "stopped"  # a signal or a cancel stopped the plan; its undo ran


class Port(Protocol):
    async def confirm(self, plan: Plan, question: str, ask: Ask) -> bool:
        """Show the plan and ask; False changes nothing."""
        ...

    def say(self, text: str, *, title: str = "", level: Level = "information") -> None: ...

    def stage(self, title: str) -> None:
        """A step outside the plan is under way (the quick bench before and after a rebuild)."""

    def progress(self, step: Progress) -> None:
        """The executor's progress of the running plan."""

    def report(self, plan: Plan, result: PlanResult) -> None:
        """How the plan ended: done, or failed (rolled back?) with the service's last journal lines."""

    def running(self, plan: Plan) -> contextlib.AbstractContextManager[object]:
        """Held while the plan's steps run (the command line's signal handlers, the dashboard's view)."""
        ...

    def stopped(self, plan: Plan, result: PlanResult | None) -> bool:
        """The plan was cancelled (its undo has run; result None: before it started). True when the front
        end has dealt with it (said why, chosen its exit); False to let the cancellation go on."""
        ...

    async def choose_model(self, host: str, share: str, candidates: Sequence[ModelCandidate]) -> ModelCandidate | None:
        """The model to swap to (the dashboard's picker; the command line's MODEL argument); None: none."""
        ...
