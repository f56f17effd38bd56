"""A streamed step (the build) on real processes: progress from `[ NN%]` lines, the exit status, the
last lines on failure; cancelling or timing out ends the whole build — every process under it, locally
and on a host over the lab's real sshd (`make -j` and its compilers must not outlive the step)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.executor import Executor, Progress
from gb10dash.actions.plan import Plan, Step
from gb10dash.core.monitor import HostMonitor
from gb10dash.lab import Lab
from gb10dash.lab.procs import alive
from gb10dash.transport.local import LocalTransport

from . import labctl

HOST = "stella"
BUILD_LIKE = r"""
for n in 0 10 10 50 100; do printf '[%3d%%] Building C object ggml/src/f%d.c.o\n' "$n" "$n"; done
echo "warning: on stderr" >&2
exit "${1:-0}"
"""
# a "build" whose children outlive a plain TERM to its first process: make -j and compilers
SPAWNS_CHILDREN = r"""
sleep 300 & echo $! > "$1/child.pid"
sh -c 'sleep 300 & echo $! > "$0/grandchild.pid"; wait' "$1" &
echo '[  1%] Building CXX object common/arg.cpp.o'
wait
"""


def _no_client():
    raise AssertionError("a RUN step does not talk to the API")


def _executor(tmp_path: Path, seen: list[Progress]) -> Executor:
    return Executor(
        LocalTransport("local"),
        _no_client,
        unit="llama-server.service",
        audit=AuditLog(tmp_path / "audit.jsonl"),
        on_progress=seen.append,
    )


def _plan(*argv: str, timeout_s: float = 60.0) -> Plan:
    return Plan(
        "rebuild", "local", (Step("build llama-server", argv=argv, streamed=True, timeout_s=timeout_s, tail_lines=40),)
    )


async def _wait_gone(pids: list[int], within_s: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        await asyncio.sleep(0.05)
    return [p for p in pids if alive(p)]


async def _pids(tmp_path: Path, lab: Lab | None = None, host: str = HOST) -> list[int]:
    """The pids SPAWNS_CHILDREN wrote into tmp_path, as this machine numbers them (a lab host may number
    its processes in a pid namespace of its own)."""
    deadline = time.monotonic() + 20
    files = [tmp_path / "child.pid", tmp_path / "grandchild.pid"]
    while time.monotonic() < deadline:
        if all(f.exists() and f.read_text().strip() for f in files):
            pids = [int(f.read_text()) for f in files]
            if lab is None:
                return pids
            mine = [labctl.host_pid(lab, host, pid) for pid in pids]
            assert all(mine), f"the children {pids} are not running on {host}"
            return mine
        await asyncio.sleep(0.05)
    raise AssertionError("the build-like script did not start its children")


async def test_progress_comes_from_the_percent_lines_and_stderr_is_kept(tmp_path: Path) -> None:
    seen: list[Progress] = []
    result = await _executor(tmp_path, seen).execute(_plan("sh", "-c", BUILD_LIKE, "build"))
    assert result.ok, result.error
    percents = [p.percent for p in seen if p.status == "progress"]
    assert [p for p in dict.fromkeys(percents) if p is not None] == [0, 10, 50, 100]
    last = [p for p in seen if p.status == "progress"][-1]
    assert any("f100.c.o" in line for line in last.lines)
    assert seen[-1].status == "ok" and "6 output lines" in seen[-1].detail


async def test_a_failing_build_shows_its_last_lines_and_status(tmp_path: Path) -> None:
    result = await _executor(tmp_path, []).execute(_plan("sh", "-c", BUILD_LIKE, "build", "3"))
    assert not result.ok and "exited 3" in (result.error or "")
    assert "warning: on stderr" in (result.error or "") and "f50.c.o" in (result.error or "")


async def test_cancel_ends_every_process_of_the_build_and_is_audited(tmp_path: Path) -> None:
    seen: list[Progress] = []
    audit = tmp_path / "audit.jsonl"
    task = asyncio.ensure_future(
        _executor(tmp_path, seen).execute(_plan("sh", "-c", SPAWNS_CHILDREN, "b", str(tmp_path)))
    )
    pids = await _pids(tmp_path)
    assert all(alive(p) for p in pids)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait_gone(pids) == []
    (record,) = AuditLog(audit).read()
    assert record["result"] == "cancelled"


async def test_a_timed_out_build_is_killed_with_its_children(tmp_path: Path) -> None:
    run = _executor(tmp_path, []).execute(_plan("sh", "-c", SPAWNS_CHILDREN, "b", str(tmp_path), timeout_s=3))
    result = await run
    pids = [int((tmp_path / name).read_text()) for name in ("child.pid", "grandchild.pid")]
    assert not result.ok and "timed out after 3 s" in (result.error or "")
    assert await _wait_gone(pids) == []


async def test_cancel_over_ssh_ends_the_remote_build_and_all_its_processes(lab: Lab, tmp_path: Path) -> None:
    """The guard TERMs the wrapper when our channel closes; the wrapper TERMs its process group."""
    config = labctl.config(lab)
    monitor = HostMonitor(config.host(HOST), config.ssh)
    await monitor.transport.connect()
    seen = []
    local, remote = labctl.host_dir(lab, HOST, tmp_path / "host")
    try:
        plan = Plan(
            "rebuild",
            HOST,
            (Step("build llama-server", argv=("sh", "-c", SPAWNS_CHILDREN, "b", remote), streamed=True),),
        )
        task = asyncio.ensure_future(
            Executor(
                monitor.transport, monitor.api_client, unit="llama-server.service", on_progress=seen.append
            ).execute(plan)
        )
        pids = await _pids(local, lab)
        await labctl.until(lambda: any(p.percent == 1 for p in seen), 20, "the [  1%] line")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await _wait_gone(pids) == []
    finally:
        await monitor.close()
