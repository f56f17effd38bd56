"""Restart against the lab: the real llama-server process is replaced, health comes back, audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.restart import plan_restart
from gb10dash.actions.runner import ActionBusy, host_lock, run_plan
from gb10dash.core.monitor import HostMonitor
from gb10dash.lab import Lab
from gb10dash.lab.procs import alive
from gb10dash.lab.sshd import free_port

from . import labctl


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


def main_pid(lab: Lab, host: str) -> int:
    shown = labctl.shim(lab, host, "systemctl", "show", "llama-server", "-p", "MainPID", "--value")
    return int(shown.stdout.strip())


def restart_cli(lab: Lab, host: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", "restart", host, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_restart_replaces_the_process_and_comes_back_healthy(lab: Lab, private_state: Path) -> None:
    before = main_pid(lab, "stella")
    before_here = labctl.host_pid(lab, "stella", before)
    assert before_here, f"pid {before} of stella not found here"
    proc = restart_cli(lab, "stella", "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1. restart the service: sudo -n systemctl restart llama-server.service" in proc.stdout
    assert "healthy after" in proc.stdout
    after = main_pid(lab, "stella")
    assert after != before and not alive(before_here)
    assert "llama-server" in psutil.Process(labctl.host_pid(lab, "stella", after)).name()
    (record,) = AuditLog(private_state / "audit.jsonl").read()
    assert (record["host"], record["action"], record["result"]) == ("stella", "restart", "ok")
    assert [s["command"] for s in record["steps"]][0] == "sudo -n systemctl restart llama-server.service"
    assert all(s["status"] == "ok" for s in record["steps"])


def test_without_a_terminal_and_without_yes_nothing_runs(lab: Lab) -> None:
    before = main_pid(lab, "stella")
    proc = restart_cli(lab, "stella")
    assert proc.returncode == 2 and "add --yes" in proc.stderr
    assert main_pid(lab, "stella") == before


def test_sudo_needing_a_password_names_the_sudoers_line(lab: Lab) -> None:
    before = main_pid(lab, "pegasus")
    with labctl.sudo_password_required(lab, "pegasus"):
        proc = restart_cli(lab, "pegasus", "--yes")
    assert proc.returncode == 1
    assert "sudo: a password is required" in proc.stderr
    assert "NOPASSWD: /usr/bin/systemctl restart llama-server.service" in proc.stderr
    assert main_pid(lab, "pegasus") == before


def test_a_failing_service_shows_its_journal(lab: Lab) -> None:
    dropin_dir = lab.layout.host("stella").dropin_dir
    dropin_dir.mkdir(parents=True, exist_ok=True)
    broken = dropin_dir / "zz-test-broken.conf"
    unit = labctl.shim(lab, "stella", "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
    binary = unit.split("path=")[1].split(" ;")[0].strip()
    # a free unprivileged port: on a real host the server runs as its own user and cannot bind port 1
    # (it then fails on the port before the model: the lab as root hid that)
    broken.write_text(
        f"[Service]\nExecStart=\nExecStart={binary} -m /nonexistent/missing.gguf --port {free_port()}\nRestart=no\n"
    )
    try:
        assert labctl.shim(lab, "stella", "systemctl", "daemon-reload").returncode == 0
        proc = restart_cli(lab, "stella", "--yes", "--timeout", "20")
        assert proc.returncode == 1
        assert "FAILED" in proc.stderr and "last journal lines of the service" in proc.stderr
        assert "missing.gguf" in proc.stderr
    finally:
        broken.unlink()
        labctl.shim(lab, "stella", "systemctl", "daemon-reload")
        labctl.shim(lab, "stella", "systemctl", "reset-failed", "llama-server")
        assert labctl.shim(lab, "stella", "systemctl", "restart", "llama-server").returncode == 0
        lab.wait_ready(60)


async def test_one_action_per_host_at_a_time(lab: Lab) -> None:
    config = labctl.config(lab)
    host = config.host("pegasus")
    monitor = HostMonitor(host, config.ssh)
    await monitor.transport.connect()
    try:
        with host_lock("pegasus"):
            with pytest.raises(ActionBusy, match="already running"):
                await run_plan(plan_restart(host), monitor.transport, monitor.api_client, unit=host.unit)
    finally:
        await monitor.close()


def test_audit_lines_are_json(private_state: Path) -> None:
    log = AuditLog(private_state / "audit.jsonl")
    assert log.read() == []
    from gb10dash.actions.audit import PlanRecord

    log.append(PlanRecord("h", "restart", "s"))
    log.append(PlanRecord("h", "swap", "s"))
    assert [r["action"] for r in log.read()] == ["restart", "swap"]
    assert all(json.loads(line) for line in (private_state / "audit.jsonl").read_text().splitlines())
