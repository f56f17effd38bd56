"""The linter and the type checker as tests (issue 20: ruff and mypy stay clean in CI): the README's test
command runs them with everything else, so a finding fails the suite instead of waiting for a reviewer.
Both take their settings from pyproject.toml ([tool.ruff], [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("gb10dash", "tests", "bench", "scripts")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=240
    )


def _report(proc: subprocess.CompletedProcess[str]) -> str:
    return f"{' '.join(proc.args[2:])} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"


def test_ruff_check_is_clean() -> None:
    proc = _run("ruff", "check", *SOURCES)
    assert proc.returncode == 0, _report(proc)


def test_ruff_format_is_clean() -> None:
    proc = _run("ruff", "format", "--check", *SOURCES)
    assert proc.returncode == 0, _report(proc)


def test_mypy_is_clean() -> None:
    proc = _run("mypy")  # files, exclusions and per-module settings: [tool.mypy] of pyproject.toml
    assert proc.returncode == 0, _report(proc)
