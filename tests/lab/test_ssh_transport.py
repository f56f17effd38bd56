"""The asyncssh transport against the lab's real OpenSSH sshd (no mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from gb10dash.config import SshSettings
from gb10dash.lab import Lab
from gb10dash.transport import CommandTimeout, TransportError
from gb10dash.transport.ssh import SshTransport

from . import labctl


def settings(lab: Lab, **overrides) -> SshSettings:
    base = SshSettings(
        config_file=lab.ssh_config_path, connect_timeout_s=5, keepalive_interval_s=1, keepalive_count_max=3
    )
    return dataclasses.replace(base, **overrides)


def remote_processes(marker: str) -> list[psutil.Process]:
    """Processes (on this machine, where the lab hosts live) whose argv contains marker."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []) and proc.pid != psutil.Process().pid:
            found.append(proc)
    return found


async def test_connect_by_alias_and_run_in_the_hosts_environment(lab: Lab) -> None:
    for host in ("pegasus", "stella"):
        transport = SshTransport(host, f"{host}-llm", settings(lab))
        await transport.connect()
        try:
            argv, expected = labctl.identity(lab, host)
            result = await transport.run(argv)
            assert result.ok
            assert result.stdout.strip() == expected
        finally:
            await transport.close()
        assert not transport.connected


async def test_argv_is_quoted_never_interpreted_by_the_remote_shell(lab: Lab, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    hostile = ["a b", "$(touch " + str(canary) + ")", "x; touch " + str(canary), "'\"", "*", "\\n"]
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab))
    await transport.connect()
    try:
        result = await transport.run(["printf", "%s\\n", *hostile])
        assert result.stdout.splitlines() == hostile
        assert not canary.exists()
        failing = await transport.run(["ls", "/definitely/not/here"])
        assert failing.exit_status != 0 and "No such file" in failing.stderr
    finally:
        await transport.close()


async def test_run_timeout_kills_the_remote_command(lab: Lab) -> None:
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab))
    await transport.connect()
    try:
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="timed out after 0.5 s"):
            await transport.run(["sleep", "31.7"], timeout=0.5)
        assert time.monotonic() - started < 3
        labctl.wait_for(lambda: not remote_processes("sleep 31.7"), 5, "the remote sleep to be killed")
        assert (await transport.run(["true"])).ok  # the connection is still usable
    finally:
        await transport.close()


async def test_stream_lines_and_cancelling_kills_the_remote_process(lab: Lab) -> None:
    transport = SshTransport("stella", "stella-llm", settings(lab))
    await transport.connect()
    try:
        lines = []
        stream = transport.stream(
            ["nvidia-smi", "--query-gpu=index,temperature.gpu", "--format=csv,noheader,nounits", "-lms", "137"]
        )
        async for line in stream:
            lines.append(line)
            if len(lines) == 3:
                break
        await stream.aclose()
        assert [line.split(",")[0] for line in lines] == ["0", "0", "0"]
        labctl.wait_for(lambda: not remote_processes("-lms 137"), 5, "the remote nvidia-smi to end")
    finally:
        await transport.close()


async def test_read_file_over_sftp(lab: Lab) -> None:
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab))
    await transport.connect()
    try:
        meminfo = (await transport.read_file("/proc/meminfo")).decode()
        assert meminfo.startswith("MemTotal:") and "MemAvailable:" in meminfo
        # files the kernel makes in one piece are read in one request, and still whole: every key `cat` shows
        for path in ("/proc/meminfo", "/proc/self/status", "/proc/pressure/memory"):
            read = (await transport.read_file(path)).decode()
            shown = (await transport.run(["cat", path])).stdout
            assert read.endswith("\n") and [line.split()[0] for line in read.splitlines()] == [
                line.split()[0] for line in shown.splitlines()
            ], path
        with pytest.raises(FileNotFoundError):
            await transport.read_file("/no/such/file")
    finally:
        await transport.close()


async def test_a_proc_file_longer_than_a_page_is_read_whole(lab: Lab) -> None:
    """The kernel hands out a /proc file about a page per read whatever was asked: a short read is not
    its end. Found on the real-hosts lab, whose mountinfo passed 4 KiB: the hung share the tests mount
    last was cut off and read as "not mounted". A host with more mounts (containers, snaps) is common."""
    box = labctl.container(lab, "pegasus")
    assert box is not None
    points = [f"/run/gb10dash-test-a-proc-file-longer-than-a-kernel-page-{i:02d}" for i in range(60)]
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab))
    await transport.connect()
    try:
        for point in points[:50]:
            assert box.run(["sh", "-c", f"mkdir -p {point} && mount -t tmpfs none {point}"]).returncode == 0
        whole = (await transport.run(["cat", "/proc/self/mountinfo"])).stdout
        assert len(whole) > 2 * 4096 and points[49] in whole
        assert (await transport.read_file("/proc/self/mountinfo")).decode() == whole
        for point in points[50:]:  # read again through the handle kept open: whole, and of now
            assert box.run(["sh", "-c", f"mkdir -p {point} && mount -t tmpfs none {point}"]).returncode == 0
        again = (await transport.read_file("/proc/self/mountinfo")).decode()
        assert again == (await transport.run(["cat", "/proc/self/mountinfo"])).stdout and points[-1] in again
    finally:
        await transport.close()
        box.run(["sh", "-c", " ".join(f"umount {p} 2>/dev/null;" for p in points) + " true"])


async def test_proc_files_read_again_are_fresh_and_a_gone_process_is_no_such_file(lab: Lab) -> None:
    """/proc files are polled through a handle kept open: each read must still be the kernel's text
    of now, and a process that has gone must read as gone (not as its last status)."""
    sleeper, pid = labctl.spawn_on(lab, "pegasus", ["sleep", "60"])
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab))
    await transport.connect()
    try:
        first = float((await transport.read_file("/proc/uptime")).split()[0])
        await asyncio.sleep(0.3)
        second = float((await transport.read_file("/proc/uptime")).split()[0])
        assert second >= first + 0.2
        status = (await transport.read_file(f"/proc/{pid}/status")).decode()
        assert f"Pid:\t{pid}" in status and "sleep" in status
        sleeper.kill()
        sleeper.wait(10)
        await asyncio.sleep(0.1)  # a container host's PID 1 reaps it
        with pytest.raises(FileNotFoundError):
            await transport.read_file(f"/proc/{pid}/status")
        # files any process may read of itself: a real host's sftp-server makes itself non-dumpable,
        # and then its own io and maps are root's (the shim lab's internal-sftp as root hid that)
        names = ("stat", "status", "statm", "cmdline", "comm", "limits", "cgroup", "mountinfo", "oom_score", "wchan")
        for name in names * 2:  # more files than the handles kept: the oldest are closed, reads still work
            assert await transport.read_file(f"/proc/self/{name}")
        meminfo = (await transport.read_file("/proc/meminfo")).decode()
        assert meminfo.startswith("MemTotal:")
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            sleeper.kill()
        await transport.close()


async def test_unknown_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = labctl.ssh_config_with_known_hosts(lab, empty, tmp_path / "ssh_config")
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab, config_file=config))
    with pytest.raises(TransportError, match="host key refused") as refused:
        await transport.connect()
    assert not transport.connected
    offered = lab.layout.sshd_dir("pegasus") / "ssh_host_ed25519_key.pub"
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", str(offered)], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert f"the host offered ssh-ed25519 {fingerprint}" in str(refused.value)
    assert empty.read_text() == ""  # nothing was added behind the operator's back


async def test_changed_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    # stella's real key recorded under pegasus's address: pegasus now presents a "changed" key
    port = lab.host("pegasus").ssh_port
    stella_key = (lab.layout.sshd_dir("stella")).glob("*host*key.pub")
    key_text = next(iter(stella_key)).read_text().split()[:2]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{port} {' '.join(key_text)}\n")
    config = labctl.ssh_config_with_known_hosts(lab, wrong, tmp_path / "ssh_config")
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab, config_file=config))
    with pytest.raises(TransportError, match="host key refused"):
        await transport.connect()


def fingerprint_of(lab: Lab, host: str) -> str:
    offered = lab.layout.sshd_dir(host) / "ssh_host_ed25519_key.pub"
    return subprocess.run(
        ["ssh-keygen", "-lf", str(offered)], capture_output=True, text=True, check=True
    ).stdout.split()[1]


async def test_unknown_host_key_accepted_when_the_host_opts_in(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = labctl.ssh_config_with_known_hosts(lab, empty, tmp_path / "ssh_config")
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab, config_file=config), accept_new_host_key=True)
    with caplog.at_level("WARNING", logger="gb10dash.transport.ssh"):
        await transport.connect()
    try:
        assert (await transport.run(["true"])).ok
    finally:
        await transport.close()
    fingerprint = fingerprint_of(lab, "pegasus")
    assert transport.accepted_host_key == f"ssh-ed25519 {fingerprint}"
    assert fingerprint in caplog.text and str(empty) in caplog.text
    recorded = empty.read_text().split()
    key = (lab.layout.sshd_dir("pegasus") / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    assert recorded == [f"[127.0.0.1]:{lab.host('pegasus').ssh_port}", *key]
    # the recorded key is now simply known: a transport that does not opt in connects with it
    plain = SshTransport("pegasus", "pegasus-llm", settings(lab, config_file=config))
    await plain.connect()
    await plain.close()
    assert plain.accepted_host_key is None and empty.read_text().split() == recorded


async def test_changed_host_key_is_refused_even_when_the_host_opts_in(lab: Lab, tmp_path: Path) -> None:
    port = lab.host("pegasus").ssh_port
    stella_key = (lab.layout.sshd_dir("stella") / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{port} {' '.join(stella_key)}\n")
    before = wrong.read_text()
    config = labctl.ssh_config_with_known_hosts(lab, wrong, tmp_path / "ssh_config")
    transport = SshTransport("pegasus", "pegasus-llm", settings(lab, config_file=config), accept_new_host_key=True)
    with pytest.raises(TransportError, match="HOST KEY CHANGED") as refused:
        await transport.connect()
    assert not transport.connected and transport.accepted_host_key is None
    assert f"the host offered ssh-ed25519 {fingerprint_of(lab, 'pegasus')}" in str(refused.value)
    assert wrong.read_text() == before


async def test_silent_host_times_out_without_blocking(lab: Lab, tmp_path: Path) -> None:
    """A TCP port that accepts but never speaks SSH: connect gives up at the connect timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host silent-llm\n    HostName 127.0.0.1\n    Port {port}\n    UserKnownHostsFile {lab.known_hosts_path}\n"
    )
    try:
        transport = SshTransport("silent", "silent-llm", settings(lab, config_file=config, connect_timeout_s=1.5))
        good = SshTransport("pegasus", "pegasus-llm", settings(lab))
        started = time.monotonic()
        results = await asyncio.gather(transport.connect(), good.connect(), return_exceptions=True)
        assert isinstance(results[0], TransportError)
        assert results[1] is None and good.connected
        assert time.monotonic() - started < 4
        await good.close()
    finally:
        silent.close()


async def test_reconnect_after_sshd_killed_and_restarted(lab: Lab) -> None:
    transport = SshTransport("stella", "stella-llm", settings(lab))
    await transport.connect()
    try:
        assert (await transport.run(["true"])).ok
        labctl.kill_sshd(lab, "stella")
        with pytest.raises(TransportError):
            await transport.run(["true"])
        for _ in range(50):
            if not transport.connected:
                break
            await asyncio.sleep(0.1)
        assert not transport.connected
        with pytest.raises(TransportError, match="connection refused"):
            await transport.connect()
        labctl.start_sshd(lab, "stella")
        await transport.connect()
        argv, expected = labctl.identity(lab, "stella")
        assert (await transport.run(argv)).stdout.strip() == expected
    finally:
        await transport.close()
        if not labctl.sshd_pid(lab, "stella") or not psutil.pid_exists(labctl.sshd_pid(lab, "stella")):
            labctl.start_sshd(lab, "stella")
