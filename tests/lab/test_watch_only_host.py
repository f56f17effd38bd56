"""Hosts that are not quite the seed's, on a real host: a llama-server that is not a systemd unit (started
by hand as the login user: `unit = ""` in the config) is watched through its process — found by name and
API port with `ps` — with its PID, uptime and RSS; the actions that need a unit are refused, saying why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from gb10dash.lab import Lab
from gb10dash.lab.procs import terminate

from . import labctl
from .test_exporter_prometheus import free_port

HOST = "stella"


@pytest.fixture
def hand_started(lab: Lab) -> Iterator[tuple[int, int]]:
    """A second llama-server on stella, started by hand as llm-agent: (its port, its pid on the host)."""
    shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
    binary = shown.split("path=")[1].split(" ;")[0].strip()
    port = free_port()
    proc, pid = labctl.spawn_on(
        lab,
        HOST,
        [
            binary,
            "-m",
            "/mnt/models/Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf",
            "-c",
            "512",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--metrics",
            "--load-mode",
            "none",
        ],
        user="llm-agent",
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the hand-started llama-server never answered /health"
            time.sleep(0.2)
        yield port, server_pid(proc, pid)
    finally:
        assert terminate([proc, *proc.children(recursive=True)], timeout=10) == []


def server_pid(started: psutil.Process, pid: int) -> int:
    """The llama-server's own pid on the host (the started process may be the wrapper that became the user)."""
    if started.name() == "llama-server":
        return pid
    (server,) = [p for p in started.children(recursive=True) if p.name() == "llama-server"]
    with open(f"/proc/{server.pid}/status") as fh:
        return int(next(line for line in fh if line.startswith("NSpid:")).split()[-1])


def watch_only_config(lab: Lab, tmp_path: Path, port: int) -> Path:
    head, tail = lab.config_path.read_text().split('name = "stella"', 1)
    block, rest = (tail.split("[[host]]", 1) + [""])[:2]
    block = block.replace('unit = "llama-server.service"', 'unit = ""')
    block = (
        block.split("api_url = ", 1)[0]
        + f'api_url = "http://127.0.0.1:{port}"\n'
        + block.split("api_url = ", 1)[1].split("\n", 1)[1]
    )
    path = tmp_path / "hosts.toml"
    path.write_text(head + 'name = "stella"' + block + (("[[host]]" + rest) if rest else ""))
    return path


def gb10dash(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(config))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_a_server_without_a_unit_is_watched_through_its_process(
    lab: Lab, tmp_path: Path, hand_started: tuple[int, int]
) -> None:
    port, pid = hand_started
    config = watch_only_config(lab, tmp_path, port)
    status = gb10dash(config, "status", "--json", HOST)
    (host,) = json.loads(status.stdout)["hosts"]
    assert host["healthy"], host["problems"]
    assert host["unit"]["watch_only"] and host["unit"]["main_pid"] == pid and host["unit"]["started_at"]
    assert host["memory"]["server_pid"] == pid and host["memory"]["server_rss_kib"] > 0  # found by its port
    assert host["memory"]["server_gpu_mib"] is not None  # its line among nvidia-smi's compute apps
    assert any("watch-only host" in w for w in host["warnings"])  # no journal to follow, said so
    text = gb10dash(config, "status", HOST).stdout
    assert f"llama-server process  pid {pid}" in text and "(watch-only: no unit)" in text

    for argv in (
        ["restart", HOST, "--yes"],
        ["swap", HOST, "Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf", "--yes"],
        ["rebuild", HOST, "--yes"],
        ["rebuild", HOST, "--revert", "--yes"],
    ):
        refused = gb10dash(config, *argv)
        assert refused.returncode == 1 and 'stella is watch-only (unit = "" in its config)' in refused.stderr, (
            refused.stdout + refused.stderr
        )


def test_a_watch_only_host_without_its_server_says_so(lab: Lab, tmp_path: Path) -> None:
    config = watch_only_config(lab, tmp_path, free_port())
    (host,) = json.loads(gb10dash(config, "status", "--json", HOST).stdout)["hosts"]
    assert not host["healthy"] and host["unit"]["watch_only"] and host["unit"]["main_pid"] is None
    assert "no llama-server process serving http://127.0.0.1:" in host["problems"][0]
