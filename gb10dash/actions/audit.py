"""The audit log: one JSON line per executed plan, under the XDG state dir.

Records time, host, action, every step's command, exit status, duration and result.
The stdin a step feeds (e.g. a drop-in written with `sudo -n tee`) is recorded by size
and hash only, never its text; nothing from the environment is recorded.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gb10dash import locations
from gb10dash.format import iso_utc


@dataclass(slots=True)
class StepRecord:
    title: str
    command: str
    status: str                     # ok / failed / skipped / undone / undo-failed
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
    result: str = "running"         # ok / failed / rolled back / cancelled
    error: str | None = None
    duration_s: float = 0.0

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["time"] = iso_utc(self.started_at)
        return json.dumps(data, ensure_ascii=False)


def stdin_fingerprint(text: str | None) -> tuple[int | None, str | None]:
    if text is None:
        return None, None
    raw = text.encode()
    return len(raw), hashlib.sha256(raw).hexdigest()


class AuditLog:
    def __init__(self, path: Path | None = None):
        self.path = path or locations.state_dir() / "audit.jsonl"

    def append(self, record: PlanRecord) -> None:
        locations.append_private_line(self.path, record.to_json() + "\n")

    def read(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]
