"""A dashboard that dies or is stopped mid-swap leaves nothing half-done (real hosts, real sudo).

The swap's wait step is held open for 5 s by a drop-in that starts the server through `sh -c 'sleep 5;
exec …'` (it sorts before gb10dash-model.conf, whose ExecStart= replaces it with the new model's).
SIGKILL there leaves the new drop-in and the plan marker on the host, and a `started` record with no
end here: every other action is refused until `gb10dash recover` puts the drop-ins back byte for
byte. SIGTERM and SIGHUP (a closed terminal: the output pipe goes with it) undo before exiting, a
second signal does not cut the undo short, and the audit record is complete."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gb10dash.actions.audit import AuditLog
from gb10dash.lab import Lab

from . import labctl
from .test_actions_swap import ORIGINAL, served, snapshot

HOST = "stella"
SLOW_START = "aa-test-slow-start.conf"
FIRST, SECOND = "Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf", "Qwen3-32B-GGUF/Qwen_Qwen3-32B-Q4_K_M.gguf"
WAIT_STARTED = "] wait for the model to load:"


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


def gb10dash(lab: Lab, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def marker(lab: Lab) -> Path:
    return lab.layout.host(HOST).home / ".local/state/gb10dash/pending-llama-server.service.json"


@pytest.fixture
def slow_start(lab: Lab) -> Iterator[Path]:
    """The unit starts its server 5 s late; a first swap leaves a drop-in of gb10dash's, so an undo has
    bytes to restore. Afterwards: no drop-ins, the original model served, no marker."""
    dropins = lab.layout.host(HOST).dropin_dir
    dropins.mkdir(parents=True, exist_ok=True)
    shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
    argv = shown.split("argv[]=")[1].split(" ;")[0]
    (dropins / SLOW_START).write_text(
        f'[Service]\nExecStart=\nExecStart=/bin/sh -c "sleep 5; exec \\"$$0\\" \\"$$@\\"" {argv}\n'
    )
    labctl.shim(lab, HOST, "systemctl", "daemon-reload")
    try:
        first = gb10dash(lab, "swap", HOST, FIRST, "--yes", "--timeout", "60")
        assert first.returncode == 0, first.stdout + first.stderr
        yield dropins
    finally:
        for name in (SLOW_START, "gb10dash-model.conf"):
            (dropins / name).unlink(missing_ok=True)
        marker(lab).unlink(missing_ok=True)
        labctl.shim(lab, HOST, "systemctl", "daemon-reload")
        labctl.shim(lab, HOST, "systemctl", "reset-failed", "llama-server")
        assert labctl.shim(lab, HOST, "systemctl", "restart", "llama-server").returncode == 0
        lab.wait_ready(60)
        assert served(lab) == ORIGINAL


def start_swap(lab: Lab) -> subprocess.Popen[str]:
    """`gb10dash swap` of the second model, returned once its wait step has started."""
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gb10dash", "swap", HOST, SECOND, "--yes", "--timeout", "60"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if WAIT_STARTED in line:
            return proc
    proc.wait(10)
    raise AssertionError(
        f"the swap ended before its wait step (exit {proc.returncode}): {''.join(seen)}"
        f"{proc.stderr.read() if proc.stderr else ''}"
    )


def unit_files(lab: Lab, dropins: Path) -> tuple[dict[str, bytes], bytes]:
    return snapshot(dropins), lab.layout.host(HOST).unit_file.read_bytes()


def events(plan_id: str) -> list[str]:
    return [event for event in AuditLog().history(plan_id) if event != "step"]


def test_sigkill_mid_swap_then_recover_puts_the_host_back(lab: Lab, slow_start: Path) -> None:
    before = unit_files(lab, slow_start)
    proc = start_swap(lab)
    proc.kill()
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    # what the dead dashboard left: the new drop-in, its marker on the host, a record that never ended
    assert unit_files(lab, slow_start) != before and marker(lab).exists()
    assert oct(marker(lab).stat().st_mode & 0o777) == "0o600"
    (unended,) = AuditLog().unfinished(HOST)
    assert unended["action"] == "swap" and unended["steps"][0]["undo"][0]["stdin_bytes"] > 0

    # status warns, naming the way out
    status = gb10dash(lab, "status", "--json", HOST)
    (warning,) = [w for w in json.loads(status.stdout)["hosts"][0]["warnings"] if "never ended" in w]
    assert warning.startswith(f"the swap: serve {SECOND} started ") and warning.endswith(f"gb10dash recover {HOST}`")

    # every other action is refused, naming the way out, with nothing changed
    pid = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "MainPID", "--value").stdout
    refused = gb10dash(lab, "restart", HOST, "--yes")
    assert refused.returncode == 1 and f"gb10dash recover {HOST}" in refused.stderr, refused.stderr
    assert "nothing was changed" in refused.stderr and "last journal lines" not in refused.stderr
    assert labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "MainPID", "--value").stdout == pid

    began = time.monotonic()
    recovered = gb10dash(lab, "recover", HOST, "--yes")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    print(f"\nrecover after SIGKILL mid-wait: {time.monotonic() - began:.1f} s")
    assert unit_files(lab, slow_start) == before, "unit file and drop-ins byte-identical to before the swap"
    lab.wait_ready(60)
    assert served(lab) == os.path.basename(FIRST) and not marker(lab).exists()
    assert events(unended["plan_id"]) == ["started", "interrupted", "recovered"]
    (recovery,) = [r for r in AuditLog().read() if r["action"] == "recover"]
    assert recovery["result"] == "ok" and recovery["recovers"] == unended["plan_id"]
    assert AuditLog().unfinished() == []
    again = gb10dash(lab, "recover", HOST, "--yes")
    assert again.returncode == 0 and "nothing to recover" in again.stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_swap_undoes_before_exit(lab: Lab, slow_start: Path, signum: signal.Signals) -> None:
    before = unit_files(lab, slow_start)
    proc = start_swap(lab)
    proc.send_signal(signum)
    if signum == signal.SIGHUP:
        proc.stdout.close()  # the terminal is gone: what it prints from now on goes nowhere (EPIPE)
    else:
        time.sleep(0.3)
        proc.send_signal(signum)  # a second signal during the undo changes nothing
    err = proc.stderr.read()
    proc.wait(120)
    assert proc.returncode == 3, err  # 3: stopped by a signal, what it had changed undone
    assert f"interrupted by {signum.name}" in err and "undone" in err
    assert unit_files(lab, slow_start) == before and not marker(lab).exists()
    assert served(lab) == os.path.basename(FIRST)
    record = AuditLog().read()[-1]
    assert record["action"] == "swap" and record["result"] == "cancelled, rolled back"
    assert record["error"] == f"interrupted by {signum.name}"
    assert [s["status"] for s in record["steps"] if s["title"].startswith("undo: ")] == ["undone"] * 5
    assert AuditLog().unfinished() == []
