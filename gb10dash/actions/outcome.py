"""What a running step reports and how it fails: shared by the executor and the steps it hands to others
(router_swap's API steps) without either importing the other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Progress:
    step: int  # 1-based index into plan.steps
    total: int
    title: str
    status: str  # started / progress / ok / failed / undo
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
