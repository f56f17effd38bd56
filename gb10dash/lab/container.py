"""One lab host as a real Debian machine: systemd as PID 1 of a systemd-nspawn container.

The container's root is an overlay of this machine's root (nothing is installed twice), with its own
machine-id and hostname. It boots to a small target of its own (journald, logind, sshd, the
llama-server unit) and shares the host's network: sshd listens on its own port on 127.0.0.1, the
llama-server on another. What a real GB10 host has, it has for real: the unprivileged login
`llm-agent` (in `systemd-journal` unless asked not to be), Debian's sudo with one file in
/etc/sudoers.d/, `llama-server.service` in /etc/systemd/system/ with `Restart=on-failure`, run as
the user `llama`, the binary and the model share bind-mounted read-only. Only `nvidia-smi` is a
stand-in (no GPU here): /usr/bin/nvidia-smi runs the lab's shim on the container's own Python.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

from gb10dash.lab import procs
from gb10dash.lab.hostfiles import unit_text
from gb10dash.lab.layout import UNIT, HostSpec

LOGIN_USER = "llm-agent"
SERVER_USER = "llama"
TARGET = "gb10lab.target"
SHARE = "/mnt/models"
HOME = f"/home/{LOGIN_USER}"
SERVER_HOME = "/var/lib/llama"
LLAMA_CPP_DIR = f"{HOME}/llama.cpp"
BUILD_DIR = f"{LLAMA_CPP_DIR}/build"
UPSTREAM = "/srv/gb10lab-llama-src"  # the lab's llama.cpp upstream, which llm-agent's checkout pulls from
LLAMA_BIN_DIR = "/opt/llama-cpp-bin"  # the real binary's directory, bind-mounted read-only
SMI_ROOT = "/var/lib/gb10lab"  # the nvidia-smi stand-in's profile, controls and state
SMI_PACKAGE = "gb10lab_shims"  # the shims package as copied into the container
UNIT_DIR = "/etc/systemd/system"
DROPIN_DIR = f"{UNIT_DIR}/{UNIT}.d"
SUDOERS = "/etc/sudoers.d/gb10dash"
NSPAWN = "/usr/bin/systemd-nspawn"
APT_HINT = "apt-get install -y systemd-container sudo"
#: units of this machine's own setup that a lab host never starts (pulled by the wants of aliases)
MASKED = (
    "nvmefc-boot-connections.service",
    "nvmf-autoconnect.service",
    "systemd-timesyncd.service",
    "systemd-pstore.service",
    "getty@tty1.service",
    "console-getty.service",
    "systemd-remount-fs.service",
)


#: the lab's kernel log. A container has no /dev/kmsg; journald reads its kernel records from a FIFO there,
#: which write_kmsg (the stand-ins' way to make the "kernel" speak) writes records into in the kernel's
#: format. A process holding the FIFO open keeps a writer's open from blocking (journald's own too).
KMSG_DROPIN = """[Service]
ExecStartPre=/bin/sh -c '[ -p /dev/kmsg ] || mkfifo -m 0600 /dev/kmsg; (sleep infinity <>/dev/kmsg &)'
"""


def kmsg_record(message: str, *, priority: int, seq: int, monotonic_us: int) -> str:
    """One /dev/kmsg record as the kernel writes it: `PRIORITY,SEQ,USEC,FLAGS;MESSAGE`."""
    if "\n" in message:
        raise ValueError("a kernel record is one line")
    return f"{priority},{seq},{monotonic_us},-;{message}\n"


CGROUP_FS = Path("/sys/fs/cgroup")


def cgroup_hierarchies() -> tuple[str, ...]:
    """The cgroup hierarchies systemd keeps its units in here, under /sys/fs/cgroup: its own and the
    unified one on a hybrid (cgroup v1) machine, the one tree ("") on cgroup v2."""
    return ("systemd", "unified") if (CGROUP_FS / "unified").is_dir() else ("",)


class ContainerError(RuntimeError):
    """The container host could not be set up, booted or reached."""


@dataclass(frozen=True)
class HostSetup:
    """What one container host is given."""

    spec: HostSpec
    ssh_port: int
    api_port: int
    host_key: Path  # the sshd host key (private; .pub beside it)
    authorized_keys: str  # the lab client's public key line
    share_src: Path  # the model share, bind-mounted read-only at /mnt/models
    llama_server: Path  # the real binary
    llama_src: Path  # the lab's llama.cpp upstream (for the rebuild), bound read-only at UPSTREAM
    journal_group: bool = True  # llm-agent in systemd-journal (False: as a host set up without it)


def sudoers_text(name: str) -> str:
    """Exactly what `gb10dash sudoers` prints for this host: the commands the product's plans run with
    sudo -n (forward and undo), derived from the plans, at Debian's paths; no hand-kept list."""
    from gb10dash.actions.sudoers import DEBIAN_PATHS, needed_commands
    from gb10dash.actions.sudoers import sudoers_text as generated
    from gb10dash.collectors.systemd import UnitStatus
    from gb10dash.config import HostConfig

    host = HostConfig(name=name, api_url="http://127.0.0.1", model_path="", ctx=0, unit=UNIT)
    unit = UnitStatus(
        active_state="active",
        sub_state="running",
        main_pid=None,
        started_at=None,
        n_restarts=0,
        result=None,
        exec_main_status=None,
        exec_start=(),
        fragment_path=f"{UNIT_DIR}/{UNIT}",
        drop_in_paths=(),
    )
    return generated(LOGIN_USER, needed_commands(host, unit), DEBIAN_PATHS, host=name)


def exec_start(spec: HostSpec, api_port: int) -> list[str]:
    return [
        f"{BUILD_DIR}/bin/llama-server",
        "-m",
        f"{SHARE}/{spec.model}",
        "-c",
        str(spec.ctx),
        "--host",
        "127.0.0.1",
        "--port",
        str(api_port),
        "--metrics",
        "--slots",
        "-ngl",
        "999",
        "--load-mode",
        "none",
        "-fa",
        "on",
        *spec.extra_args,
    ]


def target_text() -> str:
    return "\n".join(
        [
            "[Unit]",
            "Description=gb10dash lab host: journald, logind, sshd and llama-server, nothing else",
            "Requires=sysinit.target",
            "After=sysinit.target",
            "Wants=dbus.socket systemd-logind.service systemd-user-sessions.service ssh.service " + UNIT,
            "AllowIsolate=yes",
            "",
        ]
    )


def sshd_text(port: int) -> str:
    return "\n".join(
        [
            "# gb10dash lab: this host's sshd on its own port of the shared network",
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            "HostKey /etc/ssh/gb10lab_host_ed25519_key",
            f"AllowUsers {LOGIN_USER}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            "AllowTcpForwarding local",
            "MaxSessions 64",
            "MaxStartups 64:30:128",
            "LogLevel VERBOSE",
            "",
        ]
    )


def _this_python() -> list[str]:
    """This checkout of gb10dash and its Python environment, read-only at the same paths in each host,
    so that a test can run the dashboard on a host itself (its local transport). A checkout under /tmp
    would otherwise be hidden by the container's own /tmp."""
    import sys

    paths: list[Path] = []
    for path in (Path(__file__).resolve().parents[2], Path(sys.prefix).resolve()):
        if not any(path == p or path.is_relative_to(p) for p in paths):
            paths.append(path)
    return [str(p) for p in paths if p != Path("/")]


def _ns_pid(pid: int) -> int | None:
    """The pid the innermost pid namespace of process `pid` gives it (NSpid's last field)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            nspid = next((line.split()[1:] for line in fh if line.startswith("NSpid:")), [])
    except OSError:
        return None
    return int(nspid[-1]) if nspid else None


def smi_wrapper() -> str:
    return (
        "#!/bin/sh\n# gb10dash lab: nvidia-smi stand-in (no GPU here); the real formats, from the lab's shim\n"
        f"GB10LAB_ROOT={SMI_ROOT} GB10LAB_MAINPID=systemd PYTHONPATH=/usr/lib/gb10lab "
        f'exec /usr/bin/python3 -m {SMI_PACKAGE}.nvidia_smi "$@"\n'
    )


class HostContainer:
    """The container of one lab host under `base/NAME/`: upper/ and work/ of the overlay, root/
    (the merged tree this machine sees too), nspawn.pid and console.log."""

    def __init__(self, base: Path, name: str) -> None:
        self.name = name
        self.dir = base / name
        self.root = self.dir / "root"

    # -- setup -------------------------------------------------------------------------
    def prepare(self, setup: HostSetup) -> None:
        """A fresh overlay (what an earlier run wrote is gone) with this host's files in it."""
        self.teardown()
        for sub in ("upper", "work", "root"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        _run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir=/,upperdir={self.dir / 'upper'},workdir={self.dir / 'work'}",
                str(self.root),
            ]
        )
        r = self.root
        (r / "etc/machine-id").write_text(uuid.uuid4().hex + "\n")
        (r / "etc/hostname").write_text(setup.spec.name + "\n")
        # as a Debian install writes it: the host's own name resolves (sudo warns on every call otherwise)
        (r / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{setup.spec.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        )
        (r / "etc/fstab").write_text("# gb10dash lab host: no mounts of its own (the share is bound by nspawn)\n")
        self._users(setup)
        self._write(f"{UNIT_DIR}/{TARGET}", target_text())
        _relink(r / UNIT_DIR.lstrip("/") / "default.target", TARGET)
        for unit in MASKED:
            _relink(r / UNIT_DIR.lstrip("/") / unit, "/dev/null")
        shutil.rmtree(r / DROPIN_DIR.lstrip("/"), ignore_errors=True)
        self._write(
            f"{UNIT_DIR}/{UNIT}",
            unit_text(setup.spec, exec_start(setup.spec, setup.api_port), working_dir=SERVER_HOME, user=SERVER_USER),
        )
        self._write("/etc/ssh/sshd_config.d/gb10lab.conf", sshd_text(setup.ssh_port))
        self._write("/etc/ssh/gb10lab_host_ed25519_key", setup.host_key.read_text(), mode=0o600)
        self._write(
            "/etc/ssh/gb10lab_host_ed25519_key.pub", setup.host_key.with_name(setup.host_key.name + ".pub").read_text()
        )
        for other in (r / "etc/sudoers.d").glob("*"):  # this machine's own rules are not the host's
            if other.name != "README":
                other.unlink()
        self._write(SUDOERS, sudoers_text(setup.spec.name), mode=0o440)
        self._write(f"{UNIT_DIR}/systemd-journald.service.d/gb10lab-kmsg.conf", KMSG_DROPIN)
        self._write("/etc/systemd/journald.conf.d/gb10lab-kmsg.conf", "[Journal]\nReadKMsg=yes\n")
        self._write("/usr/bin/nvidia-smi", smi_wrapper(), mode=0o755)
        shims = Path(__file__).resolve().parent / "shims"
        shutil.rmtree(r / "usr/lib/gb10lab", ignore_errors=True)
        shutil.copytree(shims, r / "usr/lib/gb10lab" / SMI_PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
        self._write(f"{SMI_ROOT}/etc/gpu-profile", setup.spec.gpu_profile + "\n")
        self._write(f"{SMI_ROOT}/etc/hostname", setup.spec.name + "\n")
        (r / SMI_ROOT.lstrip("/") / "state").mkdir(parents=True, exist_ok=True)
        (r / SMI_ROOT.lstrip("/") / "state").chmod(0o1777)  # the stand-in runs as whoever calls it
        self._home(setup)

    def _users(self, setup: HostSetup) -> None:
        groups = ["-G", "systemd-journal"] if setup.journal_group else []
        _run(["chroot", str(self.root), "useradd", "--create-home", "--shell", "/bin/bash", *groups, LOGIN_USER])
        _run(
            [
                "chroot",
                str(self.root),
                "useradd",
                "--system",
                "--home-dir",
                SERVER_HOME,
                "--create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ]
        )

    def _home(self, setup: HostSetup) -> None:
        r = self.root
        self._write(f"{HOME}/.ssh/authorized_keys", setup.authorized_keys, mode=0o600)
        bin_dir = r / BUILD_DIR.lstrip("/") / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        _relink(bin_dir / "llama-server", f"{LLAMA_BIN_DIR}/{setup.llama_server.name}")
        (r / HOME.lstrip("/")).chmod(0o755)  # the server user reaches the binary through the build link
        _run(["chroot", str(r), "chown", "-R", f"{LOGIN_USER}:{LOGIN_USER}", HOME])

    def _write(self, path: str, text: str, mode: int = 0o644) -> None:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text)
        tmp.chmod(mode)
        os.replace(tmp, target)

    # -- boot ----------------------------------------------------------------------------
    def boot(self, setup: HostSetup) -> int:
        """Start systemd-nspawn in the background; returns its pid (the container's PID 1 is its child)."""
        if not os.access(NSPAWN, os.X_OK):
            raise ContainerError(f"{NSPAWN} not found: {APT_HINT}")
        argv = [
            NSPAWN,
            "-D",
            str(self.root),
            "--register=no",
            "--keep-unit",
            "--link-journal=no",
            "-b",
            "--console=passive",
            f"--hostname={setup.spec.name}",
            "--resolv-conf=off",
            "--timezone=off",
            f"--bind-ro={setup.share_src}:{SHARE}",
            f"--bind-ro={setup.llama_server.parent}:{LLAMA_BIN_DIR}",
            f"--bind-ro={setup.llama_src}:{UPSTREAM}",
            *(f"--bind-ro={path}:{path}" for path in _this_python()),
        ]
        setup.llama_src.mkdir(parents=True, exist_ok=True)
        groups = self._cgroups()
        for group in groups:
            group.mkdir(exist_ok=True)

        def own_cgroup() -> None:  # in the child, before nspawn runs
            for group in groups:
                (group / "cgroup.procs").write_text(str(os.getpid()))

        with open(self.dir / "console.log", "wb") as log:
            # /proc/sys writable, as on a real host: root there may `sysctl vm.drop_caches=3`
            env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="1")
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=own_cgroup,
                env=env,
            )
        (self.dir / "nspawn.pid").write_text(f"{proc.pid}\n")
        return proc.pid

    def _cgroups(self) -> list[Path]:
        """Where this host's nspawn runs: a cgroup of its own in each hierarchy systemd uses. nspawn
        puts the container under `payload/` of its own cgroup; two containers started from the same
        cgroup (this machine's PID 1 is not systemd, so nothing moves them) would share one tree, and
        each host's systemd would kill the other's services."""
        name = f"gb10lab-{hashlib.sha1(str(self.dir).encode()).hexdigest()[:8]}-{self.name}"
        return [CGROUP_FS / hierarchy / name for hierarchy in cgroup_hierarchies()]

    def _remove_cgroups(self) -> None:
        for group in self._cgroups():
            if group.is_dir():
                for sub in sorted((d for d in group.rglob("*") if d.is_dir()), key=lambda d: -len(d.parts)):
                    with contextlib.suppress(OSError):
                        sub.rmdir()
                with contextlib.suppress(OSError):
                    group.rmdir()

    def nspawn_pid(self) -> int | None:
        try:
            pid = int((self.dir / "nspawn.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            ok = psutil.Process(pid).exe() == NSPAWN and str(self.root) in psutil.Process(pid).cmdline()
        except (psutil.Error, OSError):
            return None
        return pid if ok else None

    def leader(self) -> int | None:
        """The container's PID 1 as this machine sees it (None while nspawn's intermediate child, which
        forks it, is still the only one)."""
        pid = self.nspawn_pid()
        if pid is None:
            return None
        try:
            children = psutil.Process(pid).children()
        except psutil.Error:
            return None
        return next((c.pid for c in children if _ns_pid(c.pid) == 1), None)

    def is_running(self) -> bool:
        return self.leader() is not None

    def enter_argv(self, argv: list[str], user: str | None = None) -> list[str]:
        """The command line that runs argv inside the container (its namespaces), as root or as `user`
        (login groups, clean env)."""
        leader = self.leader()
        if leader is None:
            raise ContainerError(f"{self.name}: the container is not running")
        inner = argv if user is None else ["runuser", "-u", user, "--", *argv]
        return ["nsenter", "-t", str(leader), "-m", "-u", "-i", "-n", "-p", "--", *inner]

    def run(
        self, argv: list[str], *, user: str | None = None, input: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess:
        """argv inside the container, as root or as `user`, to its end (output that is not UTF-8, such as a
        journal line a server wrote, is decoded with replacement characters)."""
        return subprocess.run(
            self.enter_argv(argv, user), input=input, capture_output=True, text=True, errors="replace", timeout=timeout
        )

    def write_kmsg(self, message: str, *, priority: int = 3) -> None:
        """Log one line as the host's kernel (journald reads it into the kernel log: `journalctl -k`).
        The sequence number grows with the clock, as journald skips a record not newer than the last."""
        record = kmsg_record(
            message, priority=priority, seq=time.time_ns() // 1000, monotonic_us=time.monotonic_ns() // 1000
        )
        done = self.run(["sh", "-c", "cat > /dev/kmsg"], input=record, timeout=10)
        if done.returncode != 0:
            raise ContainerError(f"{self.name}: cannot write its kernel log: {done.stderr.strip()}")

    def host_pid(self, pid: int) -> int | None:
        """The pid this machine gives the container's process `pid` (its own pid namespace differs)."""
        leader = self.leader()
        if leader is None or pid <= 0:
            return None
        try:
            tree = [psutil.Process(leader), *psutil.Process(leader).children(recursive=True)]
        except psutil.Error:
            return None
        return next((proc.pid for proc in tree if _ns_pid(proc.pid) == pid), None)

    def main_pid(self, unit: str = UNIT) -> int:
        """A unit's MainPID as its systemd says (the container's pid; 0 when none)."""
        done = self.run(["systemctl", "show", unit, "-p", "MainPID", "--value"])
        return int(done.stdout.strip() or 0)

    def wait_booted(self, timeout: float = 60.0) -> str:
        """Until systemd says the boot finished ("running" or "degraded"); returns what it said."""
        deadline = time.monotonic() + timeout
        said = ""
        while time.monotonic() < deadline:
            if self.nspawn_pid() is None:
                raise ContainerError(
                    f"{self.name}: systemd-nspawn exited; see {self.dir / 'console.log'}:\n"
                    + _tail(self.dir / "console.log")
                )
            if self.leader() is not None:
                try:
                    done = self.run(
                        ["systemctl", "is-system-running", "--wait"], timeout=max(1.0, deadline - time.monotonic())
                    )
                    said = done.stdout.strip()
                    if said in ("running", "degraded"):
                        return said
                except subprocess.TimeoutExpired:
                    break
                except ContainerError:  # gone between the look and the call: the next look says why
                    pass
            time.sleep(0.1)
        raise ContainerError(f"{self.name}: systemd did not finish booting in {timeout:.0f}s (said {said!r})")

    # -- stop ----------------------------------------------------------------------------
    def stop(self, timeout: float = 20.0) -> bool:
        """Power the container off (SIGTERM to nspawn asks its systemd to), kill it if that takes too
        long, and unmount the overlay. True if a container was running."""
        pid = self.nspawn_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                psutil.Process(pid).wait(timeout)
            except psutil.TimeoutExpired:
                tree = procs.lab_processes(self.root, [pid])
                procs.terminate(tree, timeout=5.0)
            except psutil.NoSuchProcess:
                pass
        self.teardown()
        self._remove_cgroups()
        return pid is not None

    def teardown(self) -> None:
        """Unmount the overlay (if mounted) and forget the upper layer: the next start is fresh."""
        for _ in range(5):
            if not os.path.ismount(self.root):
                break
            if subprocess.run(["umount", str(self.root)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True)
        for sub in ("upper", "work"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)


def _relink(link: Path, target: str) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise ContainerError(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
