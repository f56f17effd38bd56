"""HostMonitor against the lab: streams, reconnect, journal resume, tok/s, both transports."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import urllib.request

from gb10dash.collectors.llama import HealthState
from gb10dash.collectors.mounts import MountState
from gb10dash.core.monitor import Cadence, HostMonitor
from gb10dash.core.rates import RateSource
from gb10dash.lab import Lab
from gb10dash.transport.local import LocalTransport

from . import labctl
from .labctl import until

FAST = Cadence(fast_s=0.3, slow_s=1.0, gpu_ms=200, stat_timeout_s=3.0, log_lines=5000)


def monitor_for(lab: Lab, name: str, **host_changes) -> HostMonitor:
    config = labctl.config(lab)
    ssh = dataclasses.replace(config.ssh, keepalive_interval_s=1, keepalive_count_max=2, reconnect_max_s=1)
    host = dataclasses.replace(config.host(name), **host_changes)
    return HostMonitor(host, ssh, cadence=FAST)


def numbered(monitor: HostMonitor, tag: str) -> list[int]:
    return [int(e.message.split()[-1]) for e in monitor.log if e.message.startswith(tag)]


async def test_journal_lines_written_while_disconnected_arrive_exactly_once(lab: Lab) -> None:
    monitor = monitor_for(lab, "pegasus")
    task = asyncio.create_task(monitor.run())
    tag = f"resume-check-{time.time_ns()}"
    try:
        await until(lambda: monitor.state.connected and monitor.cursor, 20, "first journal entries")
        await asyncio.to_thread(labctl.journal_append, lab, "pegasus", *[f"{tag} {i}" for i in range(1, 51)])
        await until(lambda: len(numbered(monitor, tag)) >= 50, 20, "lines 1-50")

        await asyncio.to_thread(labctl.kill_sshd, lab, "pegasus")
        await until(lambda: not monitor.state.connected, 10, "the monitor to notice the dead connection")
        assert monitor.state.unreachable_since is not None
        await asyncio.to_thread(labctl.journal_append, lab, "pegasus", *[f"{tag} {i}" for i in range(51, 121)])
        await asyncio.sleep(1.5)  # a reconnect attempt or two fails meanwhile
        assert not monitor.state.connected and "refused" in (monitor.state.unreachable_reason or "")
        await asyncio.to_thread(labctl.start_sshd, lab, "pegasus")
        await until(lambda: monitor.state.connected, 20, "the reconnect")
        await asyncio.to_thread(labctl.journal_append, lab, "pegasus", *[f"{tag} {i}" for i in range(121, 151)])
        with contextlib.suppress(AssertionError):  # the comparison below says what is missing
            await until(lambda: len(numbered(monitor, tag)) >= 150, 20, "lines 51-150")
        await asyncio.sleep(0.5)
        held = [int(m.split()[-1]) for m in await asyncio.to_thread(labctl.journal_messages, lab, "pegasus", tag)]
        assert held == list(range(1, 151)), f"the host's journal itself holds {len(held)} of the 150 lines"
        assert numbered(monitor, tag) == held  # every line once, in order
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if not labctl.sshd_pid(lab, "pegasus") or not labctl.psutil.pid_exists(labctl.sshd_pid(lab, "pegasus")):
            labctl.start_sshd(lab, "pegasus")


def chat(url: str, prompt: str, tokens: int) -> dict:
    body = json.dumps(
        {
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": tokens,
            "temperature": 0,
            "cache_prompt": False,
        }
    ).encode()
    request = urllib.request.Request(
        f"{url}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


async def test_live_collection_and_tok_s_from_metrics(lab: Lab) -> None:
    monitor = monitor_for(lab, "stella")
    task = asyncio.create_task(monitor.run())
    try:
        state = await until(
            lambda: (s := monitor.state).unit and s.health and s.mount and s.meminfo and s.gpu and s.metrics and s,
            20,
            "every source",
        )
        assert state.unit.is_running and state.health.state is HealthState.OK
        assert state.gpu.name == "NVIDIA H100 80GB HBM3"
        first_gpu = state.sources["gpu"].last_ok
        await until(lambda: monitor.state.sources["gpu"].last_ok > first_gpu, 5, "a newer GPU sample (stream)")
        if labctl.os.geteuid() == 0:
            assert state.mount.state is MountState.MOUNTED
        # a prompt of a few hundred tokens: long enough that fixed per-request overheads (tens of µs)
        # do not dominate a prompt phase of a millisecond or two on the tiny lab model
        prompt_text = "Count to ten, please, and then name the colours of the rainbow. " * 12
        reply = await asyncio.to_thread(chat, lab.host("stella").api_url, prompt_text, 64)
        timings = reply["timings"]
        gen = await until(
            lambda: (
                (r := monitor.state.throughput.gen)
                and r.source is RateSource.METRICS
                and r.at > reply["created"] - 1
                and r
            ),
            10,
            "a gen rate from /metrics",
        )
        assert abs(gen.tokens_per_second - timings["predicted_per_second"]) / timings["predicted_per_second"] < 0.02
        prompt = monitor.state.throughput.prompt
        assert prompt is not None and prompt.source is RateSource.METRICS
        assert abs(prompt.tokens_per_second - timings["prompt_per_second"]) / timings["prompt_per_second"] < 0.02
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_api_through_an_ssh_port_forward(lab: Lab) -> None:
    monitor = monitor_for(lab, "pegasus", api_via_ssh=True)
    state = await monitor.snapshot()
    assert state.health is not None and state.health.state is HealthState.OK
    assert state.model_id == lab.host("pegasus").model_path.name
    assert state.healthy, state.problems()


_ON_THE_HOST = """
import asyncio, dataclasses, json, sys
from gb10dash.config import load_config
from gb10dash.core.monitor import Cadence, HostMonitor
from gb10dash.transport.local import LocalTransport

config = load_config(sys.argv[1])
host = dataclasses.replace(config.host("pegasus"), transport="local", ssh_alias=None)
monitor = HostMonitor(host, config.ssh, cadence=Cadence(fast_s=0.3, slow_s=1.0, gpu_ms=200, stat_timeout_s=3.0),
                      transport=LocalTransport("pegasus"))
state = asyncio.run(monitor.snapshot())
print(json.dumps({"healthy": state.healthy, "problems": state.problems(), "main_pid": state.unit.main_pid,
                  "gpu": state.gpu.name, "gpu_total": state.gpu.memory_total_mib,
                  "rss_kib": state.process_memory.vm_rss_kib, "log": [e.message for e in state.recent_log]}))
"""


async def test_local_transport_collects_the_same(lab: Lab) -> None:
    """The dashboard running on the host itself: same collectors over asyncio subprocesses (on a real
    host: inside it, as root, this repository's Python through the container's view of this machine)."""
    import sys

    box = labctl.container(lab, "pegasus")
    if box is not None:
        done = await asyncio.to_thread(box.run, [sys.executable, "-c", _ON_THE_HOST, str(lab.config_path)], timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        state = json.loads(done.stdout)
        assert state["healthy"], state["problems"]
        assert state["main_pid"] and state["gpu"] == "NVIDIA GB10" and state["gpu_total"] is None
        assert state["rss_kib"] > 0 and any(state["log"])
        return
    env = labctl.host_env(lab, "pegasus")
    monitor = monitor_for(lab, "pegasus", transport="local", ssh_alias=None)
    monitor = HostMonitor(
        monitor.host,
        monitor.ssh,
        cadence=FAST,
        transport=LocalTransport("pegasus", env={k: env[k] for k in ("GB10LAB_ROOT", "PATH")}),
    )
    state = await monitor.snapshot()
    assert state.healthy, state.problems()
    assert state.unit.main_pid and state.gpu.name == "NVIDIA GB10" and state.gpu.memory_total_mib is None
    assert state.process_memory.vm_rss_kib > 0
    assert any(e.message for e in state.recent_log)


async def test_a_cursor_the_journal_refuses_falls_back_to_the_tail(lab: Lab) -> None:
    monitor = monitor_for(lab, "stella")
    monitor.cursor = "s=not-a-cursor"
    task = asyncio.create_task(monitor.run())
    try:
        await until(
            lambda: (
                "cursor no longer in the journal"
                in ((monitor.state.sources.get("journal") and monitor.state.sources["journal"].last_error) or "")
            ),
            15,
            "the cursor to be dropped",
        )
        await until(
            lambda: monitor.log and monitor.cursor and monitor.cursor.startswith("s="), 15, "entries from the tail"
        )
        assert monitor.state.sources["journal"].last_ok is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
