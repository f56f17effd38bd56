"""What gb10dash writes stays private: the audit log (0600, in a 0700 dir), the per-host lock files and
the theme state under the XDG state dir, the bench history, whatever the umask; stdin is recorded by hash only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gb10dash import locations
from gb10dash.actions.audit import AuditLog, PlanRecord, StepRecord, stdin_fingerprint
from gb10dash.actions.runner import host_lock


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    old = os.umask(0o022)  # the usual umask: files would be world-readable unless created 0600
    try:
        yield tmp_path / "state" / "gb10dash"
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_audit_log_is_0600_in_a_0700_state_dir(state_home: Path) -> None:
    secret_dropin = "[Service]\nEnvironment=LLAMA_API_KEY=sk-not-to-be-logged\n"
    size, digest = stdin_fingerprint(secret_dropin)
    record = PlanRecord(
        "pegasus",
        "swap",
        "swap to x.gguf",
        steps=[
            StepRecord("write drop-in", "sudo -n tee /etc/x.conf", "ok", 0, 0.1, stdin_bytes=size, stdin_sha256=digest)
        ],
    )
    log = AuditLog()
    log.append(record)
    assert log.path == locations.state_dir() / "audit.jsonl" and log.path.parent == state_home
    assert mode(log.path) == 0o600 and mode(state_home) == 0o700
    assert "sk-not-to-be-logged" not in log.path.read_text()
    assert log.read()[0]["steps"][0]["stdin_sha256"] == digest


def test_host_lock_file_is_0600(state_home: Path) -> None:
    with host_lock("pegasus"):
        lock = state_home / "locks" / "pegasus.lock"
        assert mode(lock) == 0o600


def test_theme_state_and_appended_logs_are_0600(state_home: Path, tmp_path: Path) -> None:
    from gb10dash.ui import themes

    themes.save_theme("gb10-contrast")
    saved = state_home / themes.STATE_FILE
    assert mode(saved) == 0o600 and '"gb10-contrast"' in saved.read_text()
    themes.save_theme("gb10-light")  # replaced in place, still private
    assert mode(saved) == 0o600 and '"gb10-light"' in saved.read_text()
    locations.append_private_line(tmp_path / "data" / "x.jsonl", '{"host": "pegasus"}\n')
    locations.append_private_line(tmp_path / "data" / "x.jsonl", '{"host": "stella"}\n')
    assert mode(tmp_path / "data" / "x.jsonl") == 0o600 and mode(tmp_path / "data") == 0o700
    assert len((tmp_path / "data" / "x.jsonl").read_text().splitlines()) == 2
