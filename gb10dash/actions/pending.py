"""The plan marker: kept on the host while a plan that can be undone runs, holding what its undo needs.

Written (0600, in the login user's own state dir on the host, no sudo) before the plan's first
step, removed when the plan ends with the host as it should be (done, or rolled back). A marker
that outlives its plan means the dashboard that ran it died (SIGKILL, power, a lost workstation)
or its rollback failed: `gb10dash recover HOST`, from this or any other workstation that logs
in as the same user, reads it and runs the undo steps it holds. Every undo step puts one thing
back as it was (the previous drop-in's bytes, the previous build link, the previous model), so
running all of them is right however far the plan got.
"""

from __future__ import annotations

import json
import os
import posixpath
import socket
import time
from dataclasses import dataclass

from gb10dash.actions.plan import Plan, Step
from gb10dash.format import iso_utc
from gb10dash.transport.base import Transport, TransportError

MARKER_DIR = ".local/state/gb10dash"  # under the login user's home on the host
MARKER_VERSION = 1


def marker_name(unit: str) -> str:
    return f"pending-{unit}.json"


def undo_steps(plan: Plan) -> tuple[Step, ...]:
    """Every undo step of the plan in the order a full rollback runs them (newest step's first)."""
    return tuple(undo for step in reversed(plan.steps) for undo in step.undo)


@dataclass(frozen=True, slots=True)
class PendingPlan:
    plan_id: str
    host: str
    unit: str
    action: str
    summary: str
    started_at: float
    workstation: str
    pid: int
    undo: tuple[Step, ...]

    @classmethod
    def of(cls, plan: Plan, plan_id: str, unit: str, started_at: float) -> PendingPlan:
        return cls(
            plan_id,
            plan.host,
            unit,
            plan.action,
            plan.summary,
            started_at,
            socket.gethostname(),
            os.getpid(),
            undo_steps(plan),
        )

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "version": MARKER_VERSION,
                    "plan_id": self.plan_id,
                    "host": self.host,
                    "unit": self.unit,
                    "action": self.action,
                    "summary": self.summary,
                    "started": iso_utc(self.started_at),
                    "started_at": self.started_at,
                    "workstation": self.workstation,
                    "pid": self.pid,
                    "undo": [step.to_dict() for step in self.undo],
                },
                ensure_ascii=False,
                indent=1,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str, source: str) -> PendingPlan:
        """ValueError naming the source and what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}: line {exc.lineno}: not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or data.get("version") != MARKER_VERSION:
            raise ValueError(f"{source}: not a gb10dash plan marker of version {MARKER_VERSION}")
        texts = ("plan_id", "host", "unit", "action", "summary", "workstation")
        for name in texts:
            if not isinstance(data.get(name), str):
                raise ValueError(f"{source}: {name} must be text")
        started, pid = data.get("started_at"), data.get("pid")
        if isinstance(started, bool) or not isinstance(started, (int, float)):
            raise ValueError(f"{source}: started_at must be a time in seconds")
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ValueError(f"{source}: pid must be a number")
        undo = data.get("undo")
        if not isinstance(undo, list):
            raise ValueError(f"{source}: undo must be a list of steps")
        try:
            steps = tuple(Step.from_dict(step) for step in undo)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
        return cls(
            data["plan_id"],
            data["host"],
            data["unit"],
            data["action"],
            data["summary"],
            float(started),
            data["workstation"],
            pid,
            steps,
        )

    @property
    def what(self) -> str:
        """The plan in a few words: its action and the summary's head (`swap: serve Qwen3-14B-…gguf`)."""
        head = self.summary.split(" (")[0].split(";")[0].strip()
        return f"{self.action}: {head}" if head else self.action

    def describe(self, now: float | None = None) -> str:
        age = max(0.0, (now if now is not None else time.time()) - self.started_at)
        ago = f"{age:.0f} s" if age < 120 else f"{age / 60:.0f} min" if age < 7200 else f"{age / 3600:.1f} h"
        return (
            f"{self.what} started {iso_utc(self.started_at)} ({ago} ago) from {self.workstation} "
            f"(pid {self.pid}) and never ended"
        )


class PlanMarker:
    """The marker of one unit's plans on one host, through the host's transport (no sudo)."""

    def __init__(self, transport: Transport, unit: str):
        self.transport, self.unit = transport, unit
        self._path: str | None = None

    async def path(self) -> str:
        if self._path is None:
            done = await self.transport.run(["printenv", "HOME"], timeout=10)
            home = done.stdout.strip()
            if not done.ok or not home.startswith("/"):
                raise TransportError(
                    f"cannot find the login user's home on the host (printenv HOME: "
                    f"{(done.stderr or done.stdout).strip() or done.exit_status})"
                )
            self._path = posixpath.join(home, MARKER_DIR, marker_name(self.unit))
        return self._path

    async def read(self) -> PendingPlan | None:
        """The marker of a plan that never ended, None when there is none; ValueError when it is unreadable."""
        path = await self.path()
        try:
            data = await self.transport.read_file(path, timeout=10, max_bytes=8 * 1024 * 1024)
        except FileNotFoundError:
            return None
        except PermissionError:
            raise ValueError(f"{path}: not readable by the login user") from None
        return PendingPlan.from_json(data.decode("utf-8", errors="replace"), path)

    async def write(self, pending: PendingPlan) -> None:
        path = await self.path()
        done = await self.transport.run(
            ["install", "-m", "600", "-D", "/dev/stdin", path], timeout=30, input=pending.to_json()
        )
        if not done.ok:
            raise TransportError(
                f"could not write the plan marker {path} on the host, so nothing was changed: "
                f"{(done.stderr or done.stdout).strip() or f'exit {done.exit_status}'}"
            )

    async def remove(self) -> None:
        path = await self.path()
        done = await self.transport.run(["rm", "-f", path], timeout=30)
        if not done.ok:
            raise TransportError(
                f"could not remove the plan marker {path}: "
                f"{(done.stderr or done.stdout).strip() or f'exit {done.exit_status}'}"
            )
