"""Test-side control of lab hosts: kill/restart a host's sshd, run its shims, write journal lines.

Each works on both labs: the shim lab (`Lab`) and the real-hosts lab (`HostsLab`, a container per host,
where "shim" runs the host's own systemctl/journalctl/nvidia-smi as root inside it)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from gb10dash.config import Config, load_config
from gb10dash.lab import Lab
from gb10dash.lab import sshd as lab_sshd
from gb10dash.lab.container import CGROUP_FS, SHARE, SMI_ROOT, SUDOERS, HostContainer, cgroup_hierarchies
from gb10dash.lab.hosts_lab import HostsLab
from gb10dash.lab.shims.gpu_controls import GpuControls, write_controls


def config(lab: Lab) -> Config:
    return load_config(lab.config_path)


def host_env(lab: Lab, host: str) -> dict[str, str]:
    paths = lab.layout.host(host)
    return dict(os.environ, GB10LAB_ROOT=str(paths.root), PATH=f"{paths.bin}{os.pathsep}{os.environ['PATH']}")


def container(lab: Lab | HostsLab, host: str) -> HostContainer | None:
    return lab.container(host) if isinstance(lab, HostsLab) else None


def shim(lab: Lab | HostsLab, host: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run one of the host's tools (systemctl, journalctl, nvidia-smi, ...) as that host would (root)."""
    box = container(lab, host)
    if box is not None:
        return box.run(list(argv), timeout=timeout)
    paths = lab.layout.host(host)
    return subprocess.run([str(paths.bin / argv[0]), *argv[1:]], env=host_env(lab, host),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def gpu_controls(lab: Lab, host: str, *, reasons: int | None = None, power_w: float | None = None,
                 load: float | None = None) -> None:
    """Set a host's pretend-GPU controls (clocks_event_reasons bitmask, pinned power draw, load 0..1);
    with no arguments, clear them. A running `nvidia-smi -lms` follows them from its next sample."""
    box = container(lab, host)
    root = box.root / SMI_ROOT.lstrip("/") if box is not None else lab.layout.host(host).root
    write_controls(root, GpuControls(reasons=reasons, power_w=power_w, load=load))


def journal_append(lab: Lab | HostsLab, host: str, *messages: str) -> None:
    import sys

    box = container(lab, host)
    if box is not None:  # written from inside the unit's cgroup: journald files them under the unit
        join = "".join(f"echo $$ > {CGROUP_FS / h / 'system.slice/llama-server.service/cgroup.procs'} && "
                       for h in cgroup_hierarchies())
        done = box.run(["sh", "-c", join + "exec systemd-cat -t llama-server"], input="\n".join(messages) + "\n")
        assert done.returncode == 0, done.stderr
        return

    subprocess.run([sys.executable, "-m", "gb10dash.lab.shims.journal_append", "llama-server.service",
                    *messages], env=host_env(lab, host), check=True, capture_output=True, timeout=30)


def local_path(lab: Lab | HostsLab, host: str, remote: str) -> Path:
    """Where this machine sees a path of the host (the share through its source, the rest through the
    container's root)."""
    box = container(lab, host)
    if box is None:
        return Path(remote)
    if remote == SHARE or remote.startswith(SHARE + "/"):
        return lab.layout.share_src / remote[len(SHARE):].lstrip("/")
    return box.root / remote.lstrip("/")


def host_dir(lab: Lab | HostsLab, host: str, local: Path) -> tuple[Path, str]:
    """A fresh directory on the host for a test's files: where this machine writes them, and the path
    the host knows them by (a shim host shares this machine's files: `local` itself)."""
    box = container(lab, host)
    if box is None:
        local.mkdir(parents=True, exist_ok=True)
        return local, str(local)
    remote = f"/var/tmp/gb10dash-test-{uuid.uuid4().hex[:12]}"  # its /tmp is a tmpfs of its own
    where = box.root / remote.lstrip("/")
    where.mkdir(parents=True)
    where.chmod(0o1777)  # the login may write there too (a marker an injected command would touch)
    return where, remote


def remote_path(lab: Lab | HostsLab, host: str, local: Path) -> str:
    """The path the host itself uses for a file of its that this machine sees at `local`."""
    box = container(lab, host)
    return "/" + str(local.relative_to(box.root)) if box is not None else str(local)


def identity(lab: Lab | HostsLab, host: str) -> tuple[list[str], str]:
    """A command that tells which lab host a session landed on, and what it prints there."""
    if container(lab, host) is not None:
        return ["hostname"], host
    return ["printenv", "GB10LAB_ROOT"], str(lab.layout.host(host).root)


def spawn_on(lab: Lab | HostsLab, host: str, argv: list[str]) -> tuple[psutil.Process, int]:
    """Start argv on the host; returns the process (as this machine sees it) and its pid as the host
    sees it (inside a container host's own pid namespace)."""
    box = container(lab, host)
    if box is None:
        proc = psutil.Popen(argv, stdin=subprocess.DEVNULL)
        return proc, proc.pid
    leader = box.leader()
    assert leader, f"{host} is not running"
    enter = psutil.Popen(["nsenter", "-t", str(leader), "-m", "-u", "-i", "-n", "-p", "--", *argv],
                         stdin=subprocess.DEVNULL)
    child = wait_for(lambda: enter.children(), 10, f"{argv[0]} started in {host}")[0]
    with open(f"/proc/{child.pid}/status") as fh:
        inner = int(next(line for line in fh if line.startswith("NSpid:")).split()[-1])
    return child, inner


def host_pid(lab: Lab | HostsLab, host: str, pid: int) -> int | None:
    """The pid this machine sees for a pid the host reported (a container host has its own pid space)."""
    box = container(lab, host)
    return box.host_pid(pid) if box is not None else pid


@contextmanager
def sudo_password_required(lab: Lab | HostsLab, host: str) -> Iterator[None]:
    """While inside: sudo on the host asks for a password for everything (a real host: its sudoers file
    for gb10dash is moved away; the shim lab: its flag file)."""
    box = container(lab, host)
    if box is not None:
        rules = box.root / SUDOERS.lstrip("/")
        away = rules.with_name(".gb10dash.away")  # sudo skips names with a dot
        rules.rename(away)
        try:
            yield
        finally:
            away.rename(rules)
        return
    flag = lab.layout.host(host).state / "sudo-password-required"
    flag.write_text("")
    try:
        yield
    finally:
        flag.unlink()


def sshd_pid(lab: Lab | HostsLab, host: str) -> int | None:
    """The host's sshd listener, as this machine's pid."""
    box = container(lab, host)
    if box is not None:
        return box.host_pid(box.main_pid("ssh.service"))
    return lab_sshd.read_pid(lab.layout.sshd_dir(host) / "sshd.pid")


def kill_sshd(lab: Lab | HostsLab, host: str) -> None:
    """Kill the host's sshd listener and every session it forked: all connections drop (and, on a real
    host, it stays down: the unit is stopped first, or systemd would start it again)."""
    box = container(lab, host)
    if box is not None:
        done = box.run(["sh", "-c", "systemctl stop ssh.service; pkill -KILL -x sshd; true"])
        assert done.returncode == 0, done.stderr
        return
    pid = sshd_pid(lab, host)
    assert pid, f"no sshd pid for {host}"
    listener = psutil.Process(pid)
    victims = [listener, *listener.children(recursive=True)]
    for proc in victims:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=5)


def start_sshd(lab: Lab | HostsLab, host: str) -> None:
    box = container(lab, host)
    if box is not None:
        done = box.run(["systemctl", "start", "ssh.service"])
        assert done.returncode == 0, done.stderr
        return
    lab_sshd.start_sshd(lab.layout, host, lab.host(host).ssh_port)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition", interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def ssh_config_with_known_hosts(lab: Lab, known_hosts: Path, dest: Path) -> Path:
    """A copy of the lab's ssh_config whose UserKnownHostsFile is `known_hosts`."""
    lines = []
    for line in lab.ssh_config_path.read_text().splitlines():
        if line.strip().lower().startswith("userknownhostsfile"):
            line = f"    UserKnownHostsFile {known_hosts}"
        lines.append(line)
    dest.write_text("\n".join(lines) + "\n")
    return dest


async def until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
