"""Load progress on a real host: a ~4.5 GB GGUF (zeros, out of the page cache) loaded with --load-mode
none while the monitor logs in as llm-agent. With the unit running the server as llm-agent itself
(`User=` in a drop-in: a setup operators use), its /proc/PID/io is the login's to read: the bar moves
(rchar ÷ the file's size) and the load time is recorded. With the server as the host's own `llama`
user, /proc/PID/io is not readable (EACCES, for real) and the progress is estimated from that
recorded load, saying why.

Found on the way: the model's bytes in the page cache (`fincore`) cannot stand in for rchar: since
Linux 5.2 mincore() reports every page resident to a caller that neither owns nor may write the file
(a side-channel guard), so a read-only share would show 100 % at once."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from gb10dash.collectors.llama import HealthState
from gb10dash.core.load_progress import LoadHistory, LoadProgress
from gb10dash.core.load_watch import LoadCounts
from gb10dash.exporter.metrics import families
from gb10dash.lab import Lab
from gb10dash.lab.models import ModelSpec, write_model

from . import labctl
from .labctl import until
from .test_monitor import monitor_for

HOST = "stella"
DROPIN = "zz-load-progress-test.conf"
NOBODY = 65534


@pytest.fixture(scope="module")
def scratch() -> Path:
    path = Path(tempfile.mkdtemp(prefix="gb10dash-load-", dir="/tmp"))
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def big_model(lab: Lab, scratch: Path) -> tuple[Path, str]:
    """A ~4.5 GB f16 GGUF (zeros: written in seconds; it loads from disk in a few seconds) on the host, readable by its server user: where this
    machine sees it, and its path on the host. Afterwards the unit serves its own model again."""
    local_dir, remote_dir = labctl.host_dir(lab, HOST, scratch / "host")
    (path,) = write_model(
        ModelSpec("big-GGUF/big-f16.gguf", n_embd=4096, n_layer=16, qtype="F16"), local_dir, zeros=True
    )
    path.parent.chmod(0o755)
    path.chmod(0o644)
    yield path, f"{remote_dir}/{path.relative_to(local_dir)}"
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


def _serve(lab: Lab, model: str | None, user: str | None = None) -> None:
    """The unit serves `model` (a drop-in; its path on the host), as `user` when given, or, for None,
    its own model again (the drop-in removed); restarted."""
    dropin = lab.layout.host(HOST).dropin_dir / DROPIN
    if model is None:
        dropin.unlink(missing_ok=True)
    else:
        shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
        argv = shown.split("argv[]=")[1].split(" ;")[0].split()
        assert argv[argv.index("--load-mode") + 1] == "none"
        argv[argv.index("-m") + 1] = model
        who = f"User={user}\nGroup={user}\nWorkingDirectory=/var/tmp\n" if user else ""
        dropin.parent.mkdir(parents=True, exist_ok=True)
        dropin.write_text(f"[Service]\n{who}ExecStart=\nExecStart=" + " ".join(argv) + "\n")
    labctl.shim(lab, HOST, "systemctl", "daemon-reload")
    labctl.shim(lab, HOST, "systemctl", "restart", "llama-server")


def _watching(monitor) -> list[LoadProgress]:
    """Every distinct load progress the monitor publishes, in order."""
    seen: list[LoadProgress] = []
    monitor.on_update = lambda m: (
        seen.append(p) if (p := m._fields.get("load_progress")) and (not seen or seen[-1] != p) else None
    )
    return seen


@pytest.mark.timeout(180)
async def test_the_bar_moves_while_a_big_model_loads_and_the_load_time_is_recorded(
    lab: Lab, big_model: tuple[Path, str], state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local, remote = big_model
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    monitor = monitor_for(lab, HOST)
    seen = _watching(monitor)
    task = asyncio.create_task(monitor.run())
    started = time.monotonic()
    try:
        await until(lambda: (s := monitor.state).health and s.health.state is HealthState.OK, 30, "healthy at first")
        _evict(local)
        await asyncio.to_thread(_serve, lab, remote, "llm-agent")
        await until(lambda: monitor.load_watcher.recorded, 60, "the big model loaded and its load time recorded")
        state = monitor.state
        assert state.health.state is HealthState.OK and state.load_progress is None and state.model_id == local.name
        measured = [p for p in seen if not p.estimated]
        fractions = sorted({p.fraction for p in measured if p.fraction is not None and 0 < p.fraction < 1})
        rates = [p.rate_bps for p in measured if p.rate_bps]
        print(
            f"\nload: {len(measured)} readings, {[f'{f:.0%}' for f in fractions]}, "
            f"rates {[f'{r / 2**20:.0f} MiB/s' for r in rates]}, recorded {monitor.load_watcher.recorded}; "
            f"{[p.describe() for p in measured][:6]}"
        )
        assert len(fractions) >= 2, [p.describe() for p in seen]
        assert rates and all(r > 0 for r in rates)
        assert all(p.total_bytes == local.stat().st_size for p in measured)
        ((model, seconds),) = monitor.load_watcher.recorded
        assert model == remote and 0 < seconds < 60
        assert LoadHistory(state_home / "gb10dash" / "load-times.json").past(HOST, remote) == [
            pytest.approx(seconds, abs=0.001)
        ]
        # the exporter's model lifecycle series: one load ended healthy, none failed, its duration
        assert monitor.state.load_counts == LoadCounts(1, 0, seconds)
        series = {
            f.name: f.samples[0].value
            for f in families([monitor.state], [], time.time())
            if f.name.startswith("gb10dash_model_")
        }
        assert series["gb10dash_model_loads"] == 1 and series["gb10dash_model_load_failures"] == 0
        assert series["gb10dash_model_last_load_seconds"] == seconds
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        print(f"test body {time.monotonic() - started:.1f} s")


@pytest.mark.timeout(180)
async def test_unreadable_proc_io_gives_an_estimate_from_past_loads(
    lab: Lab, big_model: tuple[Path, str], state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same model loaded by the host's `llama` user: llm-agent may not read its /proc/PID/io, and
    the bar is the estimate from the load the test above recorded, saying why."""
    local, remote = big_model
    history = state_home / "gb10dash" / "load-times.json"
    if not history.exists():
        pytest.skip("needs the load recorded by the test above")
    monkeypatch.setenv("XDG_STATE_HOME", str(state_home))
    monitor = monitor_for(lab, HOST)
    seen = _watching(monitor)
    task = asyncio.create_task(monitor.run())
    try:
        await until(lambda: (s := monitor.state).health and s.health.state is HealthState.OK, 30, "healthy at first")
        _evict(local)
        await asyncio.to_thread(_serve, lab, remote)
        estimate = await until(lambda: next((p for p in seen if p.estimated), None), 30, "an estimate")
        pid = monitor.state.unit.main_pid
        denied = labctl.container(lab, HOST).run(["cat", f"/proc/{pid}/io"], user="llm-agent")
        assert denied.returncode != 0 and "Permission denied" in denied.stderr  # for real: the llama user's
        print(f"\nestimate: {estimate.describe()} ({estimate.why_estimated})")
        assert estimate.past_loads == 1 and estimate.read_bytes is None
        assert estimate.why_estimated == f"/proc/{pid}/io not readable (permission denied)"
        assert 0 <= estimate.fraction <= 0.99
        assert not [p for p in seen if not p.estimated]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(_serve, lab, None)
        await asyncio.to_thread(lab.wait_ready, 60)
        assert not (lab.layout.host(HOST).dropin_dir / DROPIN).exists()
