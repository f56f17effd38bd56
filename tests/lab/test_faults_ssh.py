"""Faults of the SSH side, through HostMonitor and the real transport: a host unreachable at start,
sshd killed for 30 s, and a connection that hangs without closing (sshd SIGSTOPped). The other host's
monitor keeps collecting meanwhile. Measured figures are printed (run with -s to see them)."""

from __future__ import annotations

import asyncio
import signal
import time

from gb10dash.lab import Lab

from . import faultctl, labctl
from .faultctl import KEEPALIVE_COUNT, KEEPALIVE_S, Recorder, monitor_for, running
from .labctl import until


def collecting(monitor) -> bool:
    state = monitor.state
    return bool(state.connected and state.unit and state.sources.get("unit") and state.sources["unit"].last_ok)


async def test_host_unreachable_at_start_is_reported_then_joins(lab: Lab) -> None:
    await asyncio.to_thread(labctl.kill_sshd, lab, "pegasus")
    pegasus, stella = monitor_for(lab, "pegasus"), monitor_for(lab, "stella")
    try:
        started = time.monotonic()
        async with running(pegasus, stella):
            await until(lambda: "refused" in (pegasus.state.unreachable_reason or ""), 10, "unreachable reported")
            reported = time.monotonic() - started
            await until(lambda: collecting(stella), 15, "stella collecting")
            assert not pegasus.state.connected and pegasus.state.unreachable_since is not None
            assert pegasus.state.problems()[0].startswith("unreachable since")
            await asyncio.to_thread(labctl.start_sshd, lab, "pegasus")
            back = time.monotonic()
            await until(lambda: collecting(pegasus), 20, "pegasus collecting after sshd started")
            joined = time.monotonic() - back
        print(f"\nunreachable at start: reported after {reported:.2f} s; collecting {joined:.2f} s after sshd started")
        assert reported < 10 and joined < 20
    finally:
        faultctl.ensure_sshd(lab, "pegasus")


async def test_sshd_killed_for_30_s_other_host_unaffected(lab: Lab) -> None:
    seen = Recorder()
    pegasus, stella = monitor_for(lab, "pegasus"), monitor_for(lab, "stella", on_update=seen)
    try:
        async with running(pegasus, stella):
            await until(lambda: collecting(pegasus) and collecting(stella), 20, "both hosts collecting")
            killed = time.monotonic()
            await asyncio.to_thread(labctl.kill_sshd, lab, "pegasus")
            await until(lambda: not pegasus.state.connected, 10, "the dead connection noticed")
            detected = time.monotonic() - killed
            stella_ok = stella.state.sources["unit"].last_ok
            await asyncio.sleep(30 - (time.monotonic() - killed))
            assert not pegasus.state.connected and "refused" in (pegasus.state.unreachable_reason or "")
            assert pegasus.state.unreachable_since is not None and time.time() - pegasus.state.unreachable_since > 25
            # stella never lost its connection and kept polling while pegasus was down
            assert all(s.connected for s in seen.since(killed))
            assert stella.state.sources["unit"].last_ok > stella_ok + 20
            await asyncio.to_thread(labctl.start_sshd, lab, "pegasus")
            back = time.monotonic()
            await until(lambda: collecting(pegasus) and pegasus.state.unit.main_pid, 20, "pegasus back")
            rejoined = time.monotonic() - back
        print(
            f"\nsshd killed: noticed after {detected:.2f} s; down 30 s; collecting {rejoined:.2f} s after restart "
            f"(reconnect backoff capped at 1 s here); stella states published meanwhile: {len(seen.since(killed))}"
        )
        assert detected < 5 and rejoined < 15
    finally:
        faultctl.ensure_sshd(lab, "pegasus")


async def test_stopped_sshd_is_detected_by_keepalive_then_reconnects(lab: Lab) -> None:
    """SIGSTOP: the TCP connection stays open and silent; only the keepalive can tell."""
    pegasus = monitor_for(lab, "pegasus")
    bound = KEEPALIVE_S * (KEEPALIVE_COUNT + 1) + 0.2  # asyncssh: count_max unanswered keepalives, then close
    stopped: list = []
    try:
        async with running(pegasus):
            await until(lambda: collecting(pegasus), 20, "pegasus collecting")
            stopped = faultctl.sshd_tree(lab, "pegasus")
            t0 = time.monotonic()
            faultctl.signal_all(stopped, signal.SIGSTOP)
            await until(lambda: not pegasus.state.connected, 20, "the hung connection detected")
            detected = time.monotonic() - t0
            # reconnects meanwhile reach a stopped listener: they time out, they do not hang the monitor
            await until(lambda: "timed out" in (pegasus.state.unreachable_reason or ""), 15, "a connect timeout")
            faultctl.signal_all(stopped, signal.SIGCONT)
            resumed = time.monotonic()
            await until(
                lambda: collecting(pegasus) and pegasus.state.sources["unit"].last_ok > time.time() - 1,
                20,
                "pegasus collecting again",
            )
            rejoined = time.monotonic() - resumed
        print(
            f"\nsshd SIGSTOPped: hung connection detected after {detected:.2f} s (keepalive {KEEPALIVE_S:g} s × "
            f"{KEEPALIVE_COUNT}, bound {bound:.1f} s + one 0.2 s watch tick); collecting {rejoined:.2f} s after SIGCONT"
        )
        assert detected < bound + 3  # generous for a loaded machine
        assert rejoined < 15
    finally:
        faultctl.signal_all(stopped, signal.SIGCONT)
        faultctl.ensure_sshd(lab, "pegasus")
