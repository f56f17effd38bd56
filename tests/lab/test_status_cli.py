"""`gb10dash status` end to end against the real-hosts lab: real systemd, sshd and llama-server; nvidia-smi stand-in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from gb10dash.lab import Lab

from . import labctl

IS_ROOT = os.geteuid() == 0


def status(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", "status", *args], env=env, capture_output=True, text=True, timeout=90
    )


def unit_pid(lab: Lab, host: str) -> int:
    shown = labctl.shim(lab, host, "systemctl", "show", "llama-server", "-p", "MainPID", "--value")
    return int(shown.stdout.strip())


def test_status_json_shows_both_hosts_healthy(lab: Lab) -> None:
    proc = status(lab, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "gb10dash.status/3" and doc["healthy"] is True
    assert [h["name"] for h in doc["hosts"]] == ["pegasus", "stella"]
    by_name = {h["name"]: h for h in doc["hosts"]}
    for name, host in by_name.items():
        lab_host = lab.host(name)
        assert host["healthy"] and host["problems"] == [] and host["reachable"]
        unit = host["unit"]
        assert (unit["active_state"], unit["sub_state"]) == ("active", "running")
        pid = unit["main_pid"]
        assert pid == unit_pid(lab, name)
        assert "llama-server" in psutil.Process(labctl.host_pid(lab, name, pid)).name()  # the real process
        assert host["model"]["id"] == lab_host.model_path.name
        assert host["health"] == {"state": "ok", "status_code": 200, "message": None}
        assert host["ctx"] == {"in_use": 4096, "configured": 4096}  # in_use from /props
        assert host["gpu"]["utilization_pct"] is not None and host["gpu"]["temperature_c"] is not None
        assert host["memory"]["total_kib"] == psutil.virtual_memory().total // 1024
        assert host["memory"]["server_pid"] == pid and host["memory"]["server_rss_kib"] > 0
        assert host["gpu_processes"][0]["pid"] == pid
        assert host["mount"]["path"] == labctl.config(lab).host(name).model_share  # the share as the host sees it
        if IS_ROOT:
            assert host["mount"]["state"] == "mounted" and host["mount"]["stat_seconds"] < 3
        assert host["throughput"]["baseline_gen_tps"] > 0
    pegasus, stella = by_name["pegasus"], by_name["stella"]
    assert pegasus["model"]["id"] == "gpt-oss-120b-mxfp4-00001-of-00003.gguf"
    assert stella["model"]["id"] == "Qwen_Qwen3-8B-Q8_0.gguf"
    # GB10 profile: nvidia-smi says [N/A] for memory → null, never 0; arch from compute_cap 12.1
    assert pegasus["gpu"]["name"] == "NVIDIA GB10" and pegasus["gpu"]["compute_cap"] == "12.1"
    assert pegasus["gpu"]["memory_total_mib"] is None and pegasus["gpu"]["memory_used_mib"] is None
    assert pegasus["gpu"]["cuda_arch"] == "121a-real"
    assert stella["gpu"]["name"] == "NVIDIA H100 80GB HBM3" and stella["gpu"]["memory_total_mib"] == 81559


def test_status_text_and_host_selection(lab: Lab) -> None:
    proc = status(lab, "stella")
    assert proc.returncode == 0, proc.stderr
    assert "stella" in proc.stdout and "pegasus" not in proc.stdout
    assert "all healthy" in proc.stdout and "Qwen_Qwen3-8B-Q8_0.gguf" in proc.stdout


def test_stopped_service_is_reported_and_exit_code_is_1(lab: Lab) -> None:
    stopped = labctl.shim(lab, "stella", "systemctl", "stop", "llama-server")
    assert stopped.returncode == 0, stopped.stderr
    try:
        proc = status(lab, "--json")
        assert proc.returncode == 1
        doc = json.loads(proc.stdout)
        by_name = {h["name"]: h for h in doc["hosts"]}
        stella = by_name["stella"]
        assert doc["healthy"] is False and stella["healthy"] is False
        assert (stella["unit"]["active_state"], stella["unit"]["sub_state"]) == ("inactive", "dead")
        assert stella["unit"]["main_pid"] is None
        assert stella["health"]["state"] == "down"
        assert any(p.startswith("unit inactive/dead") for p in stella["problems"])
        assert by_name["pegasus"]["healthy"] is True  # the other host is unaffected
        text = status(lab)
        assert text.returncode == 1 and "1 of 2 degraded" in text.stdout
    finally:
        started = labctl.shim(lab, "stella", "systemctl", "start", "llama-server")
        assert started.returncode == 0, started.stderr
        lab.wait_ready(60)


def test_unreachable_host_is_degraded_not_a_crash(lab: Lab, tmp_path) -> None:
    text = lab.config_path.read_text().replace('ssh_alias = "stella-llm"', 'ssh_alias = "nowhere-llm"')
    (tmp_path / "hosts.toml").write_text(text)
    (tmp_path / "ssh_config").write_text(
        lab.ssh_config_path.read_text() + "\nHost nowhere-llm\n    HostName 127.0.0.1\n    Port 9\n"
    )
    cfg = (tmp_path / "hosts.toml").read_text().replace(str(lab.ssh_config_path), str(tmp_path / "ssh_config"))
    (tmp_path / "hosts.toml").write_text(cfg)
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(tmp_path / "hosts.toml"), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    stella = doc["hosts"][1]
    assert stella["reachable"] is False and "connection refused" in stella["unreachable_reason"]
    assert stella["problems"][0].startswith("unreachable since")
    assert doc["hosts"][0]["healthy"] is True


def test_the_installed_command_prints_no_warnings(lab: Lab) -> None:
    """The console script scripts/setup installed (with scripts/constraints.txt), as an operator runs it:
    the known CryptographyDeprecationWarning of asyncssh's DSA import does not reach stderr, with Python's
    default warning filters and with every warning shown (PYTHONWARNINGS=default)."""
    script = os.path.join(os.path.dirname(sys.executable), "gb10dash")
    assert os.access(script, os.X_OK), f"{script}: not installed (scripts/setup installs it)"
    base = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    for extra in ({}, {"PYTHONWARNINGS": "default"}):
        env = dict(base, GB10DASH_CONFIG=str(lab.config_path), **extra)
        proc = subprocess.run([script, "status", "--json"], env=env, capture_output=True, text=True, timeout=90)
        assert proc.returncode == 0 and json.loads(proc.stdout)["healthy"], proc.stdout + proc.stderr
        assert proc.stderr == "", f"stderr with {extra or 'default filters'}: {proc.stderr}"


def test_a_plain_model_directory_is_healthy_only_when_configured_so(lab: Lab, tmp_path) -> None:
    """stella's models in a plain directory of the host (not a mount point): with model_share_mounted =
    false it is healthy (state `directory`, its stat timed); without, "not mounted" makes it degraded."""
    head, tail = lab.config_path.read_text().rsplit('model_share = "/mnt/models"', 1)  # stella's (the last)
    for flag, healthy in (("\nmodel_share_mounted = false", True), ("", False)):
        config = tmp_path / f"hosts-{healthy}.toml"
        config.write_text(head + f'model_share = "/var/lib"{flag}' + tail)
        env = dict(os.environ, GB10DASH_CONFIG=str(config))
        proc = subprocess.run(
            [sys.executable, "-m", "gb10dash", "status", "--json", "stella"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        (host,) = json.loads(proc.stdout)["hosts"]
        assert host["healthy"] is healthy and proc.returncode == (0 if healthy else 1), proc.stdout
        if healthy:
            assert host["mount"]["state"] == "directory" and host["mount"]["stat_seconds"] < 3
        else:
            assert host["problems"] == ["model share /var/lib not mounted"]


def test_what_the_login_may_not_read_of_the_server_is_said(lab: Lab) -> None:
    """The lab's servers run as the host's `llama` user (as on the real hosts): llm-agent may not read their
    /proc/PID/io, and status says so and what it costs, instead of a bare "–" somewhere."""
    proc = status(lab, "--json", "stella")
    (host,) = json.loads(proc.stdout)["hosts"]
    pid = host["unit"]["main_pid"]
    assert (
        f"the server's /proc/{pid}/io is not readable by the login (the server runs as another user): a "
        f"model load's progress is estimated from past loads"
    ) in host["warnings"]
    assert host["healthy"] and host["memory"]["server_rss_kib"] > 0  # /proc/PID/status is readable: RSS is shown


def test_watch_redraws_every_host_from_the_fleet_until_interrupted(lab: Lab, tmp_path: Path) -> None:
    """`gb10dash watch` (the Fleet's monitors, one tick per interval): each redraw shows both hosts
    running, and Ctrl-C (SIGINT) ends it with exit 0. Its stderr goes to a file (a pipe nobody reads could
    block it); if it does not end, faulthandler's dump of its threads (SIGABRT) says where it was."""
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path), PYTHONFAULTHANDLER="1")
    errors = tmp_path / "watch.stderr"
    with errors.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gb10dash", "watch", "--interval", "1"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            preexec_fn=labctl.default_sigint,  # as in a terminal, however this test run was started
        )
    screens: list[str] = []  # each redraw: from its "gb10dash ·" head to its "(refreshing" line
    screen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(s.count("unit    active/running") == 2 for s in screens) < 2:
            line = proc.stdout.readline()
            if line.startswith("gb10dash · "):
                screen = []
            screen.append(line)
            if line.startswith("(refreshing every 1 s"):
                screens.append("".join(screen))
        running = [s for s in screens if s.count("unit    active/running") == 2]
        assert len(running) >= 2, screens[-2:]
        assert "● pegasus" in running[-1] and "● stella" in running[-1]
    finally:
        drain = threading.Thread(target=proc.stdout.read, daemon=True)  # what it writes meanwhile
        drain.start()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            tail = errors.read_text()[-6000:]
            raise AssertionError(f"watch did not end within 30 s of SIGINT; its stderr:\n{tail}") from None
    assert code == 0, errors.read_text()[-2000:]
