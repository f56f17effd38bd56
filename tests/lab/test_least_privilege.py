"""Least privilege on real hosts: Debian's sudo with exactly the file `gb10dash sudoers` prints. With
any one rule gone, the plan that needs it — forward or only in its rollback — is refused before it
changes anything, and the refusal names the missing rule."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gb10dash.lab.hosts_lab import HostsLab

from . import labctl

HOST = "stella"


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


def gb10dash(lab: HostsLab, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def main_pid(lab: HostsLab) -> str:
    return labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "MainPID", "--value").stdout.strip()


def host_files(lab: HostsLab) -> dict[str, bytes]:
    paths = lab.layout.host(HOST)
    found = {"unit": paths.unit_file.read_bytes()}
    if paths.dropin_dir.is_dir():
        found.update({p.name: p.read_bytes() for p in sorted(paths.dropin_dir.iterdir())})
    return found


SWAP = ["swap", HOST, "Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf", "--yes"]
#: every rule of `gb10dash sudoers` (a part of it that names it) and an action whose plan needs it
NEEDED_BY = {
    "systemctl restart": ["restart", HOST, "--yes"],
    "mkdir -p": SWAP,  # the lab's unit has no drop-in directory yet
    "tee /etc": SWAP,
    "daemon-reload": SWAP,
    # needed only by a swap's rollback (after a start-limit hit; when there was no drop-in before):
    # still refused up front
    "reset-failed": SWAP,
    "rm -f": SWAP,
    "sysctl": ["drop-caches", HOST, "--yes"],
}


def test_every_rule_of_the_hosts_sudoers_file_is_tried_below(lab: HostsLab) -> None:
    if not isinstance(lab, HostsLab):
        pytest.skip("needs the real-hosts lab's sudo")
    text = (labctl.container(lab, HOST).root / labctl.SUDOERS.lstrip("/")).read_text()
    rules = text.split("NOPASSWD: ", 1)[1].rstrip("\n").split(", \\\n    ")
    assert sorted(next(part for part in NEEDED_BY if part in rule) for rule in rules) == sorted(NEEDED_BY)


@pytest.mark.parametrize(("rule", "argv"), list(NEEDED_BY.items()))
def test_a_plan_whose_rule_is_missing_is_refused_before_anything_changes(
    lab: HostsLab, rule: str, argv: list[str]
) -> None:
    if not isinstance(lab, HostsLab):
        pytest.skip("needs the real-hosts lab's sudo")
    before_pid, before_files = main_pid(lab), host_files(lab)
    with labctl.sudoers_without(lab, HOST, rule) as dropped:
        proc = gb10dash(lab, *argv)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "so nothing was changed" in proc.stderr and dropped.replace("\\", "") in proc.stderr.replace("\\", "")
    assert main_pid(lab) == before_pid and host_files(lab) == before_files
    print(f"\n{argv[0]} without `{dropped}`: {proc.stderr.strip().splitlines()[-1][:300]}")
