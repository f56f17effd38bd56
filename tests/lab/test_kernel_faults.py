"""The kernel's log on a real host: pegasus's "kernel" (the lab's /dev/kmsg, read by the host's own journald
into `journalctl -k`) logs an NVIDIA Xid naming the server's real PID, the driver out of unified memory and
the OOM killer taking llama-server, in the formats the driver and the kernel print them. The monitor, over
SSH as llm-agent, follows the kernel log: each becomes an event on the host's state, the `kernel` alert
fires critical, `status --json` lists them and the exporter counts them. Memory pressure (PSI) comes from
the machine itself. Afterwards the host's journal is vacuumed, so that the alert does not follow into other
tests."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gb10dash.collectors.kernel_events import KernelEventKind
from gb10dash.collectors.pressure import parse_pressure
from gb10dash.core.fleet import Fleet
from gb10dash.exporter.metrics import families
from gb10dash.lab import Lab
from gb10dash.lab.container import HostContainer

from . import labctl

HOST = "pegasus"


def forget_the_kernel_log(lab: Lab, box: HostContainer) -> None:
    """The lab host's journal rotated and vacuumed: these faults must not raise the kernel alert in the tests
    that follow (it holds 15 min). `journalctl -k` is empty again; the server is restarted so that its log
    starts with its startup lines again, as it did before."""
    box.run(["journalctl", "--rotate"])
    time.sleep(1.2)
    box.run(["journalctl", "--vacuum-time=1s"])
    assert box.run(["journalctl", "-k", "-o", "cat", "--no-pager"]).stdout.strip() == ""
    assert box.run(["systemctl", "restart", "llama-server"]).returncode == 0
    lab.wait_ready(60)


@pytest.fixture
def kernel_box(lab: Lab) -> Iterator[HostContainer]:
    box = labctl.container(lab, HOST)
    assert box is not None, "the kernel log needs the real-hosts lab (a container per host)"
    try:
        yield box
    finally:
        forget_the_kernel_log(lab, box)


async def test_kernel_faults_become_events_an_alert_and_series(lab: Lab, kernel_box: HostContainer) -> None:
    box = kernel_box
    config = labctl.config(lab)
    fleet = Fleet(config, [config.host(HOST)])
    monitor = fleet.monitors[HOST]
    async with fleet.running():
        await labctl.until(lambda: monitor.state.healthy and "kernel" in monitor.state.sources, 60, "pegasus watched")
        before = len(monitor.state.kernel_events)  # what earlier tests' kernel said, this boot
        pid = box.main_pid()
        lines = [
            f"NVRM: Xid (PCI:000f:01:00): 79, pid={pid}, name=llama-server, GPU has fallen off the bus.",
            "NVRM: nvCheckOkFailedNoLog: Check failed: Out of memory [NV_ERR_NO_MEMORY] (0x00000051) returned from "
            "_memdescAllocInternal(pMemDesc) @ mem_desc.c:1359",
            f"Out of memory: Killed process {pid} (llama-server) total-vm:125822112kB, anon-rss:118231004kB, "
            "file-rss:0kB, shmem-rss:0kB, UID:998 pgtables:231444kB oom_score_adj:0",
        ]
        written = time.time()
        for line in lines:
            box.write_kmsg(line)
        await labctl.until(lambda: len(monitor.state.kernel_events) >= before + 3, 30, "three kernel events")
        seen = monitor.state.kernel_events[before:]
        assert [e.kind for e in seen] == [KernelEventKind.XID, KernelEventKind.GPU_NO_MEMORY, KernelEventKind.OOM_KILL]
        assert (
            seen[0].pid == pid
            and seen[0].hits_server
            and seen[2].describe() == f"OOM killer killed llama-server (pid {pid})"
        )
        assert all(e.at is not None and abs(e.at - written) < 10 for e in seen)
        tick = fleet.tick(time.time(), every_host=True)
        (raised,) = [e for e in tick.events if e.alert.rule == "kernel"]
        assert raised.alert.severity == "critical" and "OOM killer killed llama-server" in raised.alert.message
        counts = {
            s.labels["kind"]: s.value
            for f in families(list(tick.states.values()), [], time.time())
            if f.name == "gb10dash_kernel_events"
            for s in f.samples
        }
        assert counts["xid"] >= 1 and counts["gpu_no_memory"] >= 1 and counts["oom_kill"] >= 1

    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gb10dash", "status", "--json", HOST],
        env=dict(os.environ, GB10DASH_CONFIG=str(lab.config_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    (host,) = json.loads(done.stdout)["hosts"]
    kinds = [e["kind"] for e in host["kernel_events"]]
    assert kinds[-3:] == ["xid", "gpu_no_memory", "oom_kill"], host["kernel_events"]
    assert host["kernel_events"][-1]["summary"] == f"OOM killer killed llama-server (pid {pid})"
    assert host["sources"]["kernel"]["last_error"] is None
    # PSI from the machine itself (a container shares its kernel): the host's reading, then this machine's
    pressure = host["memory"]["pressure"]
    assert pressure["source"] == "/proc/pressure/memory" and host["sources"]["pressure"]["last_error"] is None
    mine = parse_pressure(Path("/proc/pressure/memory").read_text())
    assert 0 <= pressure["some"]["total_us"] <= mine.some.total_us and 0 <= pressure["some"]["avg10"] <= 100
