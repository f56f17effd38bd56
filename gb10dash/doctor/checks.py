"""A doctor check's verdict (pure): ✓ ok, ! works with a limit, ✗ broken — each with the exact fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


MARKS = {Verdict.OK: "✓", Verdict.WARN: "!", Verdict.FAIL: "✗"}


@dataclass(frozen=True, slots=True)
class Check:
    name: str  # ssh, unit, flags, journal, sudo, gpu, process files, api, share, build
    verdict: Verdict
    detail: str  # what was found
    fix: str = ""  # the exact thing to do (a command, a config key), for ! and ✗

    def line(self) -> str:
        text = f"{MARKS[self.verdict]} {self.name:<13} {self.detail}"
        return text + (f"\n  fix: {self.fix}" if self.fix else "")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict.value}


def ok(name: str, detail: str) -> Check:
    return Check(name, Verdict.OK, detail)


def warn(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, Verdict.WARN, detail, fix)


def fail(name: str, detail: str, fix: str = "") -> Check:
    return Check(name, Verdict.FAIL, detail, fix)


def failed(checks: list[Check]) -> bool:
    return any(check.verdict is Verdict.FAIL for check in checks)
