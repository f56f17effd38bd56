"""`gb10dash lab start` and `gb10dash demo` as an operator runs them: as root they give the real-hosts
lab (systemd as PID 1 in each host, the login llm-agent), `status --json` finds it healthy, and the
demo stops its lab when the terminal goes away."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gb10dash.lab.hosts_lab import HostsLab, can_boot

pytestmark = pytest.mark.skipif(bool(can_boot()), reason=f"{can_boot()}")


def gb10dash(*argv: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, **env),
    )


def test_lab_start_gives_real_hosts_that_status_finds_healthy(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    try:
        started = gb10dash("lab", "start", "--lab-dir", str(lab_dir))  # no kind: as root, the real-hosts lab
        assert started.returncode == 0, started.stdout + started.stderr
        lab = HostsLab(lab_dir)
        assert lab.is_running()
        for host in ("pegasus", "stella"):
            box = lab.container(host)
            assert box.run(["ps", "-o", "comm=", "-p", "1"]).stdout.strip() == "systemd"
            login = subprocess.run(
                ["ssh", "-F", str(lab.ssh_config_path), f"{host}-llm", "id", "-un"],
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
            )
            assert login.stdout.strip() == "llm-agent", login.stderr
        status = gb10dash("--config", str(lab.config_path), "status", "--json")
        report = json.loads(status.stdout)
        assert status.returncode == 0, json.dumps(report, indent=1)[:3000] + status.stderr
        shown = gb10dash("lab", "status", "--lab-dir", str(lab_dir))
        assert shown.returncode == 0 and "lab running" in shown.stdout and "pegasus-llm" in shown.stdout
    finally:
        stopped = gb10dash("lab", "stop", "--lab-dir", str(lab_dir))
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    assert not HostsLab(lab_dir).is_running()
    assert gb10dash("lab", "status", "--lab-dir", str(lab_dir)).returncode == 3


def test_the_demo_watches_the_real_hosts_and_stops_them_when_the_terminal_goes(tmp_path: Path) -> None:
    lab_dir = tmp_path / "demo"
    demo = subprocess.Popen(
        [sys.executable, "-m", "gb10dash", "demo", "--text", "--lab-dir", str(lab_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline, out = time.monotonic() + 120, b""
        while time.monotonic() < deadline and b"refreshing every" not in out:
            if select.select([demo.stdout], [], [], 0.2)[0]:
                out += os.read(demo.stdout.fileno(), 65536)
            assert demo.poll() is None, (out + demo.stderr.read()).decode()
        assert b"pegasus" in out and b"stella" in out, out.decode()
        assert HostsLab(lab_dir).is_running()
        demo.send_signal(signal.SIGHUP)  # the terminal closed
        _, err_bytes = demo.communicate(timeout=60)
        err = err_bytes.decode()
    finally:
        if demo.poll() is None:
            demo.kill()
            HostsLab(lab_dir).stop()
    assert demo.returncode == 0, err  # the text view ends as on Ctrl-C
    assert "stopping the lab" in err
    assert not HostsLab(lab_dir).is_running()
