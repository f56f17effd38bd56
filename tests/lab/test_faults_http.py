"""llama-server HTTP faults through HostMonitor: garbage, truncated JSON, HTML, a 10 MB body, a hanging
server, a long 503 "Loading model" (gb10dash.lab.faults.FaultServer on 127.0.0.1), and the real
llama-server SIGKILLed under systemd (the host's own systemd restarts it). Figures are printed (-s)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import psutil
import pytest

from gb10dash.collectors.llama import HealthState
from gb10dash.collectors.llama_client import MAX_BODY_BYTES, LlamaClient
from gb10dash.core.monitor import HEALTH_RECHECK_TIMEOUT_S, IDLE_SLOTS_EVERY, Cadence
from gb10dash.lab import Lab
from gb10dash.lab.faults import FaultServer

from . import labctl
from .faultctl import FAST, CountingProxy, Recorder, monitor_for, running
from .labctl import until

TIMEOUT_S = 3.0  # LlamaClient's default request timeout
# mode → (health state, words in its message)
EXPECTED = {
    "garbage": (HealthState.ERROR, "unexpected /health answer"),
    "truncated": (HealthState.DOWN, "closed the connection mid-answer"),
    "html": (HealthState.ERROR, "HTTP 502"),
    "huge": (HealthState.DOWN, f"larger than {MAX_BODY_BYTES // 1024} KiB"),
    "hang": (HealthState.DOWN, "timed out"),
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
async def test_each_bad_answer_is_bounded_and_worded(mode: str) -> None:
    async with FaultServer(mode) as server:
        client = LlamaClient(server.url)
        try:
            started = time.monotonic()
            health = await client.health()
            took = time.monotonic() - started
            calls = (client.metrics,) if mode == "hang" else (client.models, client.props, client.slots, client.metrics)
            for call in calls:  # (a hanging server: one call is enough, each waits out the timeout)
                call_started = time.monotonic()
                with pytest.raises(ValueError):  # never another exception, never a hang
                    await call()
                assert time.monotonic() - call_started < TIMEOUT_S + 2
        finally:
            await client.aclose()
    state, words = EXPECTED[mode]
    print(f"\n{mode}: /health → {health.state.value} in {took:.2f} s ({health.message})")
    assert health.state is state and words in (health.message or ""), health
    assert took < TIMEOUT_S + 2


async def test_monitor_through_every_bad_answer_and_a_long_load(lab: Lab) -> None:
    seen = Recorder()
    async with FaultServer("loading") as server:
        monitor = monitor_for(lab, "stella", on_update=seen, api_url=server.url)
        async with running(monitor):
            await until(lambda: (h := monitor.state.health) and h.state is HealthState.LOADING, 10, "loading")
            loading_from = time.monotonic()
            await asyncio.sleep(8)  # a slow load: 503 on every poll
            during = seen.since(loading_from)
            assert len(during) > 10 and all(s.health.state is HealthState.LOADING for s in during)
            assert "Loading model" in (monitor.state.sources["api"].last_error or "")
            for mode, (state, words) in EXPECTED.items():
                server.mode = mode
                changed = time.monotonic()
                await until(
                    lambda s=state, w=words: (h := monitor.state.health) and h.state is s and w in (h.message or ""),
                    TIMEOUT_S + 10,
                    f"{mode} reported",
                )
                print(f"\n{mode}: reported after {time.monotonic() - changed:.2f} s")
                assert monitor.state.connected and monitor.state.unit.is_running  # SSH sources unaffected
            server.mode = "ok"
            await until(lambda: monitor.state.health.state is HealthState.OK, 10, "healthy again")
        assert server.requests > 20


def main_pid(monitor) -> int | None:
    unit = monitor.state.unit
    return unit.main_pid if unit else None


async def test_sigkilled_llama_server_is_reported_and_comes_back(lab: Lab) -> None:
    seen = Recorder()
    cadence = Cadence(fast_s=0.2, slow_s=0.3, gpu_ms=500, stat_timeout_s=2.0, log_lines=FAST.log_lines)
    monitor = monitor_for(lab, "stella", cadence=cadence, on_update=seen)
    async with running(monitor):
        await until(lambda: main_pid(monitor) and monitor.state.health and monitor.state.healthy, 20, "healthy")
        first = main_pid(monitor)
        first_here = labctl.host_pid(lab, "stella", first)  # the host's pid, as this machine numbers it
        assert first_here, f"stella's pid {first} not found here"
        restarts = monitor.state.unit.n_restarts or 0
        t0 = time.monotonic()
        os.kill(first_here, signal.SIGKILL)
        await until(lambda: monitor.state.health.state is not HealthState.OK, 10, "health down")
        down = time.monotonic() - t0
        await until(lambda: (p := main_pid(monitor)) and p != first and monitor.state.healthy, 30, "back healthy")
        back = time.monotonic() - t0
        await until(
            lambda: any("code=killed, status=9/KILL" in e.message for e in monitor.log), 10, "the kill in the journal"
        )
    states = seen.since(t0)
    units = {(s.unit.active_state, s.unit.sub_state) for s in states if s.unit}
    healths = {s.health.state for s in states if s.health}
    print(
        f"\nllama-server SIGKILLed: health down after {down:.2f} s, healthy with a new process after {back:.2f} s; "
        f"unit states seen {sorted(units)}; health states seen {sorted(h.value for h in healths)}"
    )
    assert monitor.state.unit.n_restarts == restarts + 1
    assert units - {("active", "running")}, "the dead unit was never shown (failed / auto-restart / activating)"
    assert not psutil.pid_exists(first_here)


async def test_steady_polls_ask_metrics_alone_and_a_hung_server_is_still_down_in_bound(lab: Lab) -> None:
    """A healthy, idle llama-server: each poll is one /metrics (its answer says healthy), /slots one poll
    in IDLE_SLOTS_EVERY, no /health — counted on the wire by a proxy in front of the real server. Then
    the server is stopped (SIGSTOP: connections accepted, nothing answered): health must still go down
    within one request timeout plus the /health recheck, and come back when it runs again."""
    config_url = monitor_for(lab, "stella").host.api_url
    async with CountingProxy(config_url) as proxy:
        monitor = monitor_for(lab, "stella", api_url=proxy.url)
        async with running(monitor):
            await until(
                lambda: (
                    monitor.state.healthy
                    and monitor.state.metrics is not None
                    and not monitor.state.sources["api"].failing
                ),
                20,
                "healthy with metrics",
            )
            await asyncio.sleep(2 * FAST.fast_s * IDLE_SLOTS_EVERY)
            proxy.paths.clear()
            await asyncio.sleep(20 * FAST.fast_s)
            counts = dict(proxy.paths)
            print(f"\nsteady requests over {20 * FAST.fast_s:.0f} s at a {FAST.fast_s} s poll: {counts}")
            assert counts.get("/metrics", 0) >= 12, counts
            assert counts.get("/health", 0) == 0, counts
            assert 1 <= counts.get("/slots", 0) <= counts["/metrics"] // IDLE_SLOTS_EVERY + 1, counts
            server_pid = labctl.host_pid(lab, "stella", main_pid(monitor) or 0)
            assert server_pid
            os.kill(server_pid, signal.SIGSTOP)
            try:
                stopped = time.monotonic()
                await until(lambda: monitor.state.health.state is HealthState.DOWN, 20, "hung server down")
                down = time.monotonic() - stopped
                assert "timed out" in (monitor.state.health.message or "")
            finally:
                os.kill(server_pid, signal.SIGCONT)
            await until(lambda: monitor.state.healthy, 15, "healthy again")
    print(
        f"stopped llama-server: health down after {down:.2f} s "
        f"(bound {TIMEOUT_S + HEALTH_RECHECK_TIMEOUT_S + FAST.fast_s:.1f} s + scheduling)"
    )
    assert down < TIMEOUT_S + HEALTH_RECHECK_TIMEOUT_S + FAST.fast_s + 2
