"""A long step (a build) run as a stream: its output line by line, a percentage, its exit status.

The transport's stream yields stdout lines and no exit status, so the step runs under a constant
wrapper script (the argv stays positional parameters, never script text) that merges stderr,
prints one marker line with the exit status at the end, and — when it is told to stop (our
channel closes: the ssh guard sends TERM; the local transport kills the process group) — sends
TERM to its whole process group, so `make -j` and every compiler under it end with it.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

EXIT_MARK = "gb10dash-step-exit:"
_WRAPPER = (
    "trap 'trap - TERM INT HUP; kill -TERM 0 2>/dev/null; exit 143' TERM INT HUP; "
    '"$@" </dev/null 2>&1 & p=$!; wait "$p"; s=$?; '
    f'echo "{EXIT_MARK}$s"; exit "$s"'
)
_PROGRESS = re.compile(r"^\s*\[\s*(\d{1,3})%\]")


def streamed_argv(argv: Sequence[str]) -> list[str]:
    """argv wrapped so that its stream ends with the exit-status marker."""
    if not argv:
        raise ValueError("empty argv")
    return ["sh", "-c", _WRAPPER, "gb10dash-step", *argv]


def parse_build_progress(line: str) -> int | None:
    """The percentage of a cmake/make `[ NN%] Building ...` line, else None."""
    match = _PROGRESS.match(line)
    return min(int(match.group(1)), 100) if match else None


@dataclass(slots=True)
class StreamedOutput:
    """What a streamed step printed so far: the last lines, the last percentage, the exit status."""

    keep: int = 40
    percent: int | None = None
    exit_status: int | None = None
    line_count: int = 0
    tail: deque[str] = field(init=False)

    def __post_init__(self) -> None:
        self.tail = deque(maxlen=self.keep)

    def feed(self, line: str) -> bool:
        """Take one output line; True when it changed the percentage."""
        if line.startswith(EXIT_MARK):
            status = line[len(EXIT_MARK) :].strip()
            self.exit_status = int(status) if status.isdigit() else 255
            return False
        self.line_count += 1
        self.tail.append(line)
        percent = parse_build_progress(line)
        if percent is None or percent == self.percent:
            return False
        self.percent = percent
        return True

    def last(self, count: int) -> list[str]:
        lines = [line for line in self.tail if line.strip()]
        return lines[-count:] if count > 0 else []
