"""What a running step reports and how it fails: shared by the executor and the steps it hands to others
(router_swap's API steps) without either importing the other."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class StepStatus(enum.StrEnum):
    """Where a step is, as the executor reports it to a front end."""

    STARTED = "started"
    PROGRESS = "progress"  # a wait's elapsed time, a streamed step's percentage
    OK = "ok"
    FAILED = "failed"
    STOPPED = "stopped"  # cancelled while it ran (its record keeps "running": it never ended on its own)
    UNDO = "undo"  # one of the plan's undo steps runs


@dataclass(frozen=True, slots=True)
class Progress:
    step: int  # 1-based index into plan.steps
    total: int
    title: str
    status: StepStatus
    detail: str = ""
    elapsed_s: float = 0.0
    percent: int | None = None  # a streamed step's `[ NN%]`
    lines: tuple[str, ...] = ()  # a streamed step's last output lines


class StepFailed(Exception):
    def __init__(
        self, message: str, exit_status: int | None = None, rewritten_exec_start: tuple[str, ...] | None = None
    ):
        super().__init__(message)
        self.exit_status = exit_status
        self.rewritten_exec_start = rewritten_exec_start
