"""The audit log: JSON lines under the XDG state dir, written ahead of what a plan does.

A plan's lines, all carrying its `plan_id`: `started` (fsynced before its first step: host,
action, every step's command and its undo's) → one `step` per step as it ends → `ended` (the
whole record: time, host, action, every step's command, exit status, duration and result).
A plan that never ended (the dashboard was killed) gets `interrupted` when a recovery finds
it, then `recovered` (or `closed`, when there was nothing left to undo).

The stdin a step feeds (e.g. a drop-in written with `sudo -n tee`) is recorded by size and
hash only, never its text (a drop-in may hold an --api-key); the text the undo needs is kept on
the host, in the login user's 0600 plan marker (pending.py). Nothing from the environment is
recorded. Lines without an `event` (older logs) are ended records.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gb10dash import locations
from gb10dash.actions.plan import Plan, Step
from gb10dash.format import iso_utc

#: the events after which a plan needs nothing more
CLOSING_EVENTS = frozenset({"ended", "recovered", "closed"})


def new_plan_id(host: str, at: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at if at is not None else time.time()))
    return f"{stamp}-{host}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class StepRecord:
    title: str
    command: str
    status: str  # ok / failed / skipped / undone / undo-failed
    exit_status: int | None = None
    duration_s: float = 0.0
    detail: str = ""
    stdin_bytes: int | None = None
    stdin_sha256: str | None = None


@dataclass(slots=True)
class PlanRecord:
    host: str
    action: str
    summary: str
    started_at: float = field(default_factory=time.time)
    steps: list[StepRecord] = field(default_factory=list)
    result: str = "running"  # ok / failed / rolled back / cancelled / interrupted, rolled back
    error: str | None = None
    duration_s: float = 0.0
    plan_id: str = ""
    recovers: str | None = None  # a recovery: the id of the interrupted plan it undoes

    def __post_init__(self) -> None:
        self.plan_id = self.plan_id or new_plan_id(self.host, self.started_at)

    def to_json(self) -> str:
        data: dict[str, Any] = {"event": "ended", **asdict(self)}
        data["time"] = iso_utc(self.started_at)
        return json.dumps(data, ensure_ascii=False)


def _step_outline(step: Step) -> dict[str, Any]:
    size, digest = stdin_fingerprint(step.stdin)
    outline: dict[str, Any] = {"title": step.title, "command": step.command_line()}
    if size is not None:
        outline.update(stdin_bytes=size, stdin_sha256=digest)
    if step.undo:
        outline["undo"] = [_step_outline(undo) for undo in step.undo]
    return outline


def stdin_fingerprint(text: str | None) -> tuple[int | None, str | None]:
    if text is None:
        return None, None
    raw = text.encode()
    return len(raw), hashlib.sha256(raw).hexdigest()


class AuditLog:
    def __init__(self, path: Path | None = None):
        self.path = path or locations.state_dir() / "audit.jsonl"
        self._parsed: tuple[tuple[int, int], list[dict[str, Any]]] | None = None  # (mtime, size) → events

    def _write(self, data: dict[str, Any]) -> None:
        locations.append_private_line(self.path, json.dumps(data, ensure_ascii=False) + "\n", durable=True)

    def started(self, record: PlanRecord, plan: Plan) -> None:
        """The write-ahead record: on disk (fsynced) before the plan's first step runs."""
        self._write(
            {
                "event": "started",
                "plan_id": record.plan_id,
                "time": iso_utc(record.started_at),
                "host": record.host,
                "action": record.action,
                "summary": record.summary,
                "recovers": record.recovers,
                "pid": os.getpid(),
                "steps": [_step_outline(step) for step in plan.steps],
            }
        )

    def step_ended(self, record: PlanRecord, entry: StepRecord) -> None:
        self._write({"event": "step", "plan_id": record.plan_id, **asdict(entry)})

    def append(self, record: PlanRecord) -> None:
        """The end record: the whole plan as it went."""
        locations.append_private_line(self.path, record.to_json() + "\n", durable=True)

    def note(self, event: str, plan_id: str, host: str, detail: str, **extra: Any) -> None:
        """`interrupted`, `recovered` or `closed` for a plan that never ended."""
        self._write(
            {"event": event, "plan_id": plan_id, "host": host, "time": iso_utc(time.time()), "detail": detail, **extra}
        )

    def events(self) -> list[dict[str, Any]]:
        """Every line, oldest first (parsed again only when the file changed: a monitor asks often)."""
        try:
            info = self.path.stat()
            if self._parsed is not None and self._parsed[0] == (info.st_mtime_ns, info.st_size):
                return list(self._parsed[1])
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            if line.strip():
                data = json.loads(line)
                data.setdefault("event", "ended")
                events.append(data)
        self._parsed = ((info.st_mtime_ns, info.st_size), events)
        return list(events)

    def read(self) -> list[dict[str, Any]]:
        """The ended plans' records, oldest first."""
        return [event for event in self.events() if event["event"] == "ended"]

    def history(self, plan_id: str) -> list[str]:
        """The events of one plan in order, e.g. ["started", "step", "interrupted", "recovered"]."""
        return [event["event"] for event in self.events() if event.get("plan_id") == plan_id]

    def unfinished(self, host: str | None = None) -> list[dict[str, Any]]:
        """`started` records of plans with no end, recovery or close (oldest first)."""
        events = self.events()
        closed = {event.get("plan_id") for event in events if event["event"] in CLOSING_EVENTS}
        return [
            event
            for event in events
            if event["event"] == "started"
            and event["plan_id"] not in closed
            and (host is None or event["host"] == host)
        ]
