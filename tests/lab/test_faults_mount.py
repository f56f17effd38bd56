"""A hung model share: a real FUSE mount whose daemon never answers (gb10dash.lab.faults.HungMount),
so `stat` blocks in D state like a hard NFS mount whose server is gone. The monitor reports it hung
within its stat timeout, keeps collecting the rest, and leaves no task or remote process stuck.
The stat goes over SFTP on a session of its own: the process blocked on the host is that session's
server (an sshd running internal-sftp in the lab), never the main SFTP session that reads /proc."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil
import pytest

from gb10dash.collectors.mounts import MountState
from gb10dash.lab import Lab
from gb10dash.lab.faults import hung_mount_unavailable

from .faultctl import FAST, monitor_for, running, sshd_tree
from .labctl import HungShare, until

pytestmark = pytest.mark.skipif(bool(hung_mount_unavailable()), reason=f"{hung_mount_unavailable()}")


def blocked(lab: Lab, host: str = "pegasus") -> list[psutil.Process]:
    """The host's session processes stuck in the kernel (D state): the blocked stat's server."""
    found = []
    for proc in sshd_tree(lab, host):
        try:
            if proc.status() == psutil.STATUS_DISK_SLEEP:
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


async def test_hung_share_is_reported_within_the_stat_timeout(lab: Lab, tmp_path: Path) -> None:
    tasks_before = len(asyncio.all_tasks())
    with HungShare(lab, "pegasus", tmp_path) as mount:
        monitor = monitor_for(lab, "pegasus", model_share=mount.remote)
        async with running(monitor):
            await until(lambda: monitor.state.connected, 20, "connected")
            t0 = time.monotonic()
            hung = await until(lambda: (m := monitor.state.mount) and m.state is MountState.HUNG and m, 20, "hung")
            reported = time.monotonic() - t0
            assert "stat did not answer within" in hung.error and hung.stat_seconds >= FAST.stat_timeout_s
            await until(lambda: blocked(lab), 5, "the blocked remote stat")
            # the other sources keep coming while the stat is stuck
            unit_ok, memory_ok = (monitor.state.sources[s].last_ok for s in ("unit", "memory"))
            await until(lambda: monitor.state.sources["unit"].last_ok > unit_ok + 2, 10, "unit polls go on")
            # /proc reads (main SFTP session) are not queued behind the blocked stat (its own session)
            assert monitor.state.sources["memory"].last_ok > memory_ok + 2
            waiting = await until(lambda: (m := monitor.state.mount) and m.stat_seconds > 4 and m, 10, "still hung")
            assert waiting.state is MountState.HUNG and "has not returned for" in waiting.error
            assert len(blocked(lab)) == 1  # no second stat piles up behind the first
            assert "model share" in " ".join(monitor.state.problems())
            mount.release()  # the server comes back as "gone": the blocked stat fails with ENOTCONN
            await until(lambda: (m := monitor.state.mount) and m.state is not MountState.HUNG, 20, "not hung")
        print(
            f"\nhung share: reported hung {reported:.2f} s after connecting (stat timeout {FAST.stat_timeout_s:g} s,"
            f" slow poll {FAST.slow_s:g} s); then {monitor.state.mount.state.value}"
        )
    await until(lambda: not blocked(lab), 10, "no stat left")
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) <= tasks_before, [t.get_coro() for t in asyncio.all_tasks()]


async def test_monitor_stopped_while_the_stat_hangs_leaves_nothing_behind(lab: Lab, tmp_path: Path) -> None:
    tasks_before = len(asyncio.all_tasks())
    with HungShare(lab, "pegasus", tmp_path) as hung:
        monitor = monitor_for(lab, "pegasus", model_share=hung.remote)
        async with running(monitor):
            await until(lambda: (m := monitor.state.mount) and m.state is MountState.HUNG, 20, "hung")
        stopped = time.monotonic()
        # the blocked stat's server is killed (SIGKILL: FUSE and NFS waits are killable) before the connection closes
        await until(lambda: not blocked(lab), 10, "the remote stat gone while the mount is still hung")
        print(f"\nmonitor stopped during a hung stat: remote stat gone after {time.monotonic() - stopped:.2f} s")
    await asyncio.sleep(0.1)
    assert len(asyncio.all_tasks()) <= tasks_before, [t.get_coro() for t in asyncio.all_tasks()]
