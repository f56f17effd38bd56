"""Drop caches against the lab: the real `sync` and `sysctl vm.drop_caches=3` through sudo over ssh,
seen in the page cache itself (fincore: how much of a file is resident), audited."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gb10dash.actions.audit import AuditLog
from gb10dash.lab import Lab


def resident_bytes(path: Path) -> int:
    done = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return int(done.stdout.strip())


@pytest.mark.skipif(shutil.which("fincore") is None, reason="fincore (util-linux) is not installed")
def test_drop_caches_empties_the_page_cache_and_is_audited(lab: Lab, tmp_path: Path) -> None:
    warm = tmp_path / "warm.bin"
    warm.write_bytes(os.urandom(1024 * 1024) * 64)  # 64 MiB, written and so in the page cache
    warm.read_bytes()
    assert resident_bytes(warm) > 48 * 1024 * 1024
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path), XDG_STATE_HOME=str(tmp_path / "state"))
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "drop-caches", "stella", "--yes"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "sudo -n sysctl vm.drop_caches=3" in proc.stdout and "free the reclaimable page cache" in proc.stdout
    assert resident_bytes(warm) < 8 * 1024 * 1024
    (record,) = AuditLog(tmp_path / "state" / "gb10dash" / "audit.jsonl").read()
    assert record["action"] == "drop-caches" and record["result"] == "ok"
    assert [s["command"] for s in record["steps"]] == ["sync", "sudo -n sysctl vm.drop_caches=3"]
