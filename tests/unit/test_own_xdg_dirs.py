"""The suite never writes into the operator's own XDG directories (tests/conftest.py: the session and each
test get their own; the session fails if the real ones changed)."""

from __future__ import annotations

from pathlib import Path

import conftest

from gb10dash import locations
from gb10dash.actions.audit import AuditLog, PlanRecord


def test_each_test_writes_under_its_own_directories(tmp_path: Path) -> None:
    for where in (locations.state_dir(), locations.config_dir(), locations.data_dir()):
        assert where.is_relative_to(tmp_path), where
    AuditLog().append(PlanRecord("stella", "restart", "a test's plan"))
    assert AuditLog().path.is_relative_to(tmp_path)
    assert not any(AuditLog().path.is_relative_to(real.parent) for real in conftest._REAL_DIRS)


def test_the_real_directories_are_watched() -> None:
    """The check at the end of the session compares listings of these; a changed listing fails the run."""
    assert [p.name for p in conftest._REAL_DIRS] == ["gb10dash"] * 3
    assert all(not str(p).startswith(("/tmp/gb10dash-test-xdg-",)) for p in conftest._REAL_DIRS)
