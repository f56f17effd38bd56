"""Load progress against the lab: a ~2 GB GGUF (zeros, out of the page cache) loaded with
--load-mode none; the monitor's bar moves (rchar of /proc/MainPID/io ÷ the file's size), the load
time is recorded; then /proc/PID/io unreadable for real (a reader that is not root and not the
server's user) and the progress is estimated from that recorded load."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from gb10dash.collectors.llama import HealthState
from gb10dash.lab import Lab
from gb10dash.lab.models import ModelSpec, write_model
from gb10dash.load_progress import LoadHistory, LoadProgress

from . import labctl
from .labctl import until
from .test_monitor import monitor_for

HOST = "stella"
DROPIN = "zz-load-progress-test.conf"
NOBODY = 65534


@pytest.fixture(scope="module")
def scratch() -> Path:
    """A directory the second test's reader (nobody) may traverse: pytest's own tmp dirs are 0700."""
    path = Path(tempfile.mkdtemp(prefix="gb10dash-load-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def big_model(lab: Lab, scratch: Path) -> Path:
    """A ~2 GB f16 GGUF (zeros: written in seconds); afterwards the unit serves its own model again."""
    (path,) = write_model(ModelSpec("big-GGUF/big-f16.gguf", n_embd=4096, n_layer=6, qtype="F16"), scratch,
                          zeros=True)
    path.parent.chmod(0o755)
    yield path
    if (lab.layout.host(HOST).dropin_dir / DROPIN).exists():
        _serve(lab, None)
        lab.wait_ready(60)
    path.unlink()


@pytest.fixture(scope="module")
def state_home(scratch: Path) -> Path:
    path = scratch / "state"
    path.mkdir(mode=0o755)
    return path


def _evict(path: Path) -> None:
    """Drop the file from the page cache (only it): the load then reads it from disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _serve(lab: Lab, model: Path | None) -> None:
    """The unit serves `model` (a drop-in) or, for None, its own again (the drop-in removed); restarted."""
    dropin = lab.layout.host(HOST).dropin_dir / DROPIN
    if model is None:
        dropin.unlink(missing_ok=True)
    else:
        shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
        argv = shown.split("argv[]=")[1].split(" ;")[0].split()
        assert argv[argv.index("--load-mode") + 1] == "none"
        argv[argv.index("-m") + 1] = str(model)
        dropin.write_text("[Service]\nExecStart=\nExecStart=" + " ".join(argv) + "\n")
    labctl.shim(lab, HOST, "systemctl", "daemon-reload")
    labctl.shim(lab, HOST, "systemctl", "restart", "llama-server")


@pytest.mark.timeout(180)
async def test_the_bar_moves_while_a_big_model_loads_and_the_load_time_is_recorded(
        lab: Lab, big_model: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    seen: list[LoadProgress] = []
    monitor = monitor_for(lab, HOST)
    monitor.on_update = lambda m: seen.append(p) if (p := m._fields.get("load_progress")) and (
        not seen or seen[-1] != p) else None
    task = asyncio.create_task(monitor.run())
    started = time.monotonic()
    try:
        await until(lambda: (s := monitor.state).health and s.health.state is HealthState.OK, 30, "healthy at first")
        _evict(big_model)
        await asyncio.to_thread(_serve, lab, big_model)
        await until(lambda: monitor.load_watcher.recorded, 60, "the big model loaded and its load time recorded")
        state = monitor.state
        assert state.health.state is HealthState.OK and state.load_progress is None and state.model_id == big_model.name
        measured = [p for p in seen if not p.estimated]
        fractions = sorted({p.fraction for p in measured if p.fraction is not None and 0 < p.fraction < 1})
        rates = [p.rate_bps for p in measured if p.rate_bps]
        print(f"\nload: {len(measured)} readings, {[f'{f:.0%}' for f in fractions]}, "
              f"rates {[f'{r / 2**20:.0f} MiB/s' for r in rates]}, recorded {monitor.load_watcher.recorded}; "
              f"{[p.describe() for p in measured][:6]}")
        assert len(fractions) >= 2, [p.describe() for p in seen]
        assert rates and all(r > 0 for r in rates)
        assert all(p.total_bytes == big_model.stat().st_size for p in measured)
        (model, seconds), = monitor.load_watcher.recorded
        assert model == str(big_model) and 0 < seconds < 60
        assert LoadHistory(state_home / "gb10dash" / "load-times.json").past(HOST, str(big_model)) == \
            [pytest.approx(seconds, abs=0.001)]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        print(f"test body {time.monotonic() - started:.1f} s")


_READER = """
import asyncio, json, sys, time
from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.systemd import parse_systemctl_show
from gb10dash.load_progress import default_history
from gb10dash.load_watch import LoadWatcher
from gb10dash.transport.local import LocalTransport

unit = parse_systemctl_show(sys.stdin.read())  # read by root (the lab's shims are root's)
health = Health(HealthState(sys.argv[2]), 503, "Loading model")  # likewise: /health as root saw it
watcher = LoadWatcher(LocalTransport(sys.argv[1]), sys.argv[1], "/configured.gguf", default_history())
print(json.dumps(asyncio.run(watcher.poll(unit, health, time.time())).as_json()))
"""


@pytest.mark.timeout(180)
async def test_unreadable_proc_io_gives_an_estimate_from_past_loads(
        lab: Lab, big_model: Path, state_home: Path) -> None:
    """The reader runs as nobody (setpriv: uid and gid 65534, no groups, no capabilities): the server is
    root's, so its /proc/PID/io is EACCES for real. The history holds the load the test above recorded."""
    history = state_home / "gb10dash" / "load-times.json"
    if not history.exists():
        pytest.skip("needs the load recorded by the test above")
    os.chown(history.parent, NOBODY, NOBODY)
    os.chown(history, NOBODY, NOBODY)
    _evict(big_model)
    await asyncio.to_thread(_serve, lab, big_model)
    try:
        pid = await until(lambda: _loading_pid(lab), 20, "the new process")
        denied = await asyncio.to_thread(subprocess.run, ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "cat",
                                 f"/proc/{pid}/io"], check=False, capture_output=True, text=True, timeout=10)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr  # root here reads it fine
        shown = (await asyncio.to_thread(labctl.shim, lab, HOST, "systemctl", "show", "llama-server")).stdout
        health = await until(lambda: monitor_health(lab), 20, "/health answering")
        assert health is HealthState.LOADING, "the load ended before the reader ran"
        proc = await asyncio.to_thread(subprocess.run, [
            "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-c", _READER,
            HOST, health.value], input=shown, capture_output=True, text=True, timeout=60,
            env=dict(os.environ, XDG_STATE_HOME=str(state_home), HOME="/nonexistent"))
        readings = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        print(f"\nestimate readings as nobody: {readings}\n{proc.stderr[-2000:]}")
        (estimate,) = readings
        assert estimate["estimated"] and estimate["past_loads"] == 1 and estimate["read_bytes"] is None
        assert f"/proc/{pid}/io not readable (permission denied)" == estimate["why_estimated"]
        assert 0 <= estimate["fraction"] <= 0.99
    finally:
        await asyncio.to_thread(_serve, lab, None)
        await asyncio.to_thread(lab.wait_ready, 60)
        assert not (lab.layout.host(HOST).dropin_dir / DROPIN).exists()


def _loading_pid(lab: Lab) -> int | None:
    shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "MainPID", "--value").stdout.strip()
    return int(shown) if shown.isdigit() and int(shown) else None


def monitor_health(lab: Lab) -> HealthState | None:
    """/health of the lab host as root sees it (None while it does not answer yet)."""
    from gb10dash.collectors.llama import parse_health

    url = labctl.config(lab).host(HOST).api_url
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            return parse_health(response.status, response.read().decode()).state
    except urllib.error.HTTPError as error:
        return parse_health(error.code, error.read().decode()).state
    except OSError:
        return None
