"""Test-side control of lab hosts: kill/restart a host's sshd, run its shims, write journal lines.

Each works on both labs: the shim lab (`Lab`) and the real-hosts lab (`HostsLab`, a container per host,
where "shim" runs the host's own systemctl/journalctl/nvidia-smi as root inside it)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from gb10dash.config import Config, load_config
from gb10dash.lab import Lab
from gb10dash.lab import sshd as lab_sshd
from gb10dash.lab.container import CGROUP_FS, SHARE, SMI_ROOT, SUDOERS, HostContainer, cgroup_hierarchies
from gb10dash.lab.faults import HungMount
from gb10dash.lab.hosts_lab import HostsLab
from gb10dash.lab.mounts import mount_share, unmount_share
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
    return subprocess.run(
        [str(paths.bin / argv[0]), *argv[1:]],
        env=host_env(lab, host),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def default_sigint() -> None:
    """preexec_fn: Ctrl-C as in a terminal. A test run started in the background (`cmd &` in a script)
    inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def served_with(
    lab: Lab | HostsLab, host: str, dropin: str, change: Callable[[list[str]], list[str]]
) -> Iterator[None]:
    """The host's llama-server restarted with its unit's ExecStart argv changed (a drop-in named `dropin`),
    then put back (drop-in gone, restarted) whatever the test did."""
    path = lab.layout.host(host).dropin_dir / dropin
    shown = shim(lab, host, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
    argv = change(shown.split("argv[]=")[1].split(" ;")[0].split())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[Service]\nExecStart=\nExecStart=" + " ".join(argv) + "\n")
    try:
        shim(lab, host, "systemctl", "daemon-reload")
        assert shim(lab, host, "systemctl", "restart", "llama-server").returncode == 0
        lab.wait_ready(60)
        yield
    finally:
        path.unlink(missing_ok=True)
        shim(lab, host, "systemctl", "daemon-reload")
        assert shim(lab, host, "systemctl", "restart", "llama-server").returncode == 0
        lab.wait_ready(60)


def gpu_controls(
    lab: Lab, host: str, *, reasons: int | None = None, power_w: float | None = None, load: float | None = None
) -> None:
    """Set a host's pretend-GPU controls (clocks_event_reasons bitmask, pinned power draw, load 0..1);
    with no arguments, clear them. A running `nvidia-smi -lms` follows them from its next sample."""
    box = container(lab, host)
    root = box.root / SMI_ROOT.lstrip("/") if box is not None else lab.layout.host(host).root
    write_controls(root, GpuControls(reasons=reasons, power_w=power_w, load=load))


class JournalWriter:
    """Writes lines into a host's journal as llama-server.service's own output: on a real host one
    long-lived process inside the unit's cgroup with its stdout on journald's stream (journald files
    its lines under the unit, and applies its real rate limit); on the shim lab, the lab journal's
    appender.

    journald looks up a stream's unit from the writer's pid when it handles each line: a writer that
    exits before journald caught up has its last lines filed under no unit (seen under load: a batch
    of 50 lines missing from `journalctl -u`). So the writer is `cat` exec'd by `systemd-cat` (the
    stream's pid is the one that stays), and close() waits until the unit's journal shows the last
    line before letting it go."""

    def __init__(self, lab: Lab | HostsLab, host: str):
        self._lab, self._host = lab, host
        self._box = container(lab, host)
        self._root = None if self._box else lab.layout.host(host).root
        self._cat: subprocess.Popen | None = None
        self._last: str | None = None
        if self._box is not None:
            join = "".join(
                f"echo $$ > {CGROUP_FS / h / 'system.slice/llama-server.service/cgroup.procs'} && "
                for h in cgroup_hierarchies()
            )
            self._cat = subprocess.Popen(
                self._box.enter_argv(["sh", "-c", join + "exec systemd-cat -t llama-server cat"]),
                stdin=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )

    def write(self, messages: list[str]) -> None:
        if self._cat is None:
            from gb10dash.lab.shims.journal_append import append_unit_lines

            append_unit_lines("llama-server.service", list(messages), self._root)
            return
        assert self._cat.stdin is not None
        self._cat.stdin.write(("\n".join(messages) + "\n").encode())
        self._cat.stdin.flush()
        if messages:
            self._last = messages[-1]

    def write_bytes(self, data: bytes, last: str) -> None:
        """Raw output (not UTF-8, one huge line, …) as the server would print it, then the line `last`,
        which close() waits for."""
        assert self._cat is not None and self._cat.stdin is not None, "raw bytes need a real host's journal"
        self._cat.stdin.write(data + b"\n" + last.encode() + b"\n")
        self._cat.stdin.flush()
        self._last = last

    def _caught_up(self, within_s: float = 10.0) -> None:
        """Until the unit's journal shows the last line written (bounded: journald may have dropped it
        past its rate limit)."""
        deadline = time.monotonic() + within_s
        while self._last is not None and time.monotonic() < deadline:
            tail = shim(
                self._lab, self._host, "journalctl", "-u", "llama-server.service", "-o", "cat", "-n", "50", "--no-pager"
            ).stdout
            if self._last in tail.splitlines():
                return
            time.sleep(0.05)

    def close(self) -> None:
        if self._cat is not None:
            assert self._cat.stdin is not None and self._cat.stderr is not None
            self._caught_up()
            self._cat.stdin.close()
            self._cat.wait(timeout=30)
            err = self._cat.stderr.read().decode()
            self._cat.stderr.close()
            assert self._cat.returncode == 0, err
            self._cat = None

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def journal_append(lab: Lab | HostsLab, host: str, *messages: str) -> None:
    """Journal `messages` as llama-server.service's output lines, and return once they were handed over."""
    with JournalWriter(lab, host) as writer:
        writer.write(list(messages))


def journal_messages(lab: Lab | HostsLab, host: str, containing: str) -> list[str]:
    """What the host's journal holds of llama-server.service whose text contains `containing` (as root)."""
    done = shim(lab, host, "journalctl", "-u", "llama-server.service", "-o", "cat", "--no-pager", timeout=120)
    return [line for line in done.stdout.splitlines() if containing in line]


def local_path(lab: Lab | HostsLab, host: str, remote: str) -> Path:
    """Where this machine sees a path of the host (the share through its source, the rest through the
    container's root)."""
    box = container(lab, host)
    if box is None:
        return Path(remote)
    if remote == SHARE or remote.startswith(SHARE + "/"):
        return lab.layout.share_src / remote[len(SHARE) :].lstrip("/")
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


def spawn_on(lab: Lab | HostsLab, host: str, argv: list[str], user: str | None = None) -> tuple[psutil.Process, int]:
    """Start argv on the host (as `user` on a container host, root when None); returns the process (as this
    machine sees it) and its pid as the host sees it (inside a container host's own pid namespace)."""
    box = container(lab, host)
    if box is None:
        proc = psutil.Popen(argv, stdin=subprocess.DEVNULL)
        return proc, proc.pid
    enter = psutil.Popen(box.enter_argv(argv, user), stdin=subprocess.DEVNULL)
    child = wait_for(lambda: enter.children(), 10, f"{argv[0]} started in {host}")[0]
    with open(f"/proc/{child.pid}/status") as fh:
        inner = int(next(line for line in fh if line.startswith("NSpid:")).split()[-1])
    return child, inner


def llama_source(lab: Lab | HostsLab, host: str) -> Path:
    """The host's llama_cpp_dir as a git checkout of the lab's upstream (the login's own, on a real
    host); where this machine sees it."""
    from gb10dash.lab import llama_src
    from gb10dash.lab.container import LLAMA_CPP_DIR, LOGIN_USER, UPSTREAM

    box = container(lab, host)
    if box is None:
        return llama_src.ensure_host_source(lab.layout, host)
    llama_src.ensure_container_source(lab.layout, box, UPSTREAM, LLAMA_CPP_DIR, LOGIN_USER)
    return local_path(lab, host, LLAMA_CPP_DIR)


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


class HungShare:
    """A model share on a lab host that hangs: a FUSE mount at ``remote`` whose daemon never answers
    (made in the host's own mount namespace on a real-hosts lab). ``release()`` aborts it (the blocked
    stat fails); ``answer_again()`` then binds a fresh directory there, as NFS coming back would."""

    def __init__(self, lab: Lab | HostsLab, host: str, scratch: Path):
        self.box = container(lab, host)
        local, base = host_dir(lab, host, scratch)
        self._local_src = local / "share-src"
        self.remote = f"{base}/models"
        self._source = f"{base}/share-src"
        self._mount = HungMount(self.remote, namespace_of=self.box.leader() if self.box else None)
        self._bound = False

    def __enter__(self) -> HungShare:
        self._mount.__enter__()
        return self

    def release(self) -> None:
        self._mount.release()

    def answer_again(self) -> None:
        self._local_src.mkdir()
        if self.box is None:
            assert mount_share(self._local_src, Path(self.remote))
        else:
            done = self.box.run(["mount", "--bind", "-o", "ro", self._source, self.remote])
            assert done.returncode == 0, done.stderr
        self._bound = True

    def __exit__(self, *exc: object) -> None:
        self.release()
        if not self._bound:
            return
        if self.box is None:
            unmount_share(Path(self.remote))
        else:
            self.box.run(["umount", "-l", self.remote])


@contextmanager
def sudoers_without(lab: HostsLab, host: str, rule: str) -> Iterator[str]:
    """While inside: the host's sudoers file without the one rule that contains `rule` (yielded whole)."""
    path = container(lab, host).root / SUDOERS.lstrip("/")
    text = path.read_text()
    head, body = text.split("NOPASSWD: ", 1)
    rules = body.rstrip("\n").split(", \\\n    ")
    (dropped,) = [r for r in rules if rule in r]
    path.write_text(head + "NOPASSWD: " + ", \\\n    ".join(r for r in rules if r != dropped) + "\n")
    try:
        yield dropped
    finally:
        path.write_text(text)


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
