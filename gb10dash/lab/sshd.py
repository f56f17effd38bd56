"""Real OpenSSH for the lab: one unprivileged-port sshd per lab host on 127.0.0.1.

Each sshd gives its sessions the host's own environment (GB10LAB_ROOT, PATH with the host's
shim bin/ first) through sshd_config ``SetEnv``. The client side is an ssh_config with one
alias per host, a known_hosts with the lab host keys and a client key; ssh and asyncssh both
verify host keys strictly against it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

from gb10dash.lab.layout import Layout
from gb10dash.lab.procs import alive

SSHD = "/usr/sbin/sshd"
APT_HINT = "install OpenSSH: apt-get install -y openssh-server openssh-client"


def user_name() -> str:
    return pwd.getpwuid(os.getuid()).pw_name


def quote(value: str) -> str:
    """Quote one ssh(d)_config argument (both parse double quotes)."""
    if value and not any(c in value for c in " \t\"'\\#"):
        return value
    if '"' in value or "\\" in value:
        raise ValueError(f"cannot put {value!r} in an ssh config file")
    return f'"{value}"'


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if it can be bound on 127.0.0.1 now, else a port the kernel picks."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # servers do too: TIME_WAIT is fine
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port on 127.0.0.1")


def tool(name: str) -> str:
    found = shutil.which(name) or (SSHD if name == "sshd" and os.access(SSHD, os.X_OK) else None)
    if not found:
        raise RuntimeError(f"{name} not found; {APT_HINT}")
    return found


def keygen(path: Path, comment: str) -> None:
    if path.is_file() and path.with_name(path.name + ".pub").is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    subprocess.run(
        [tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def ensure_keys(layout: Layout, hosts: list[str]) -> None:
    layout.ssh_dir.mkdir(parents=True, exist_ok=True)
    keygen(layout.client_key, "gb10dash-lab-client")
    pub = layout.client_key.with_name("id_ed25519.pub").read_text()
    layout.authorized_keys.write_text(pub)
    for host in hosts:
        keygen(host_key(layout, host), f"gb10dash-lab-{host}")


def host_key(layout: Layout, host: str) -> Path:
    return layout.sshd_dir(host) / "ssh_host_ed25519_key"


def write_sshd_config(layout: Layout, host: str, port: int) -> Path:
    d, hp = layout.sshd_dir(host), layout.host(host)
    path_env = f"PATH={hp.bin}:/usr/local/bin:/usr/bin:/bin"
    lines = [
        f"# gb10dash lab sshd for {host} — generated, rewritten at each lab start",
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {quote(str(host_key(layout, host)))}",
        f"PidFile {quote(str(d / 'sshd.pid'))}",
        f"AuthorizedKeysFile {quote(str(layout.authorized_keys))}",
        f"AllowUsers {user_name()}",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "UsePAM no",
        "StrictModes no",
        "PermitUserEnvironment no",
        "X11Forwarding no",
        "AllowTcpForwarding local",
        "MaxSessions 64",
        "MaxStartups 64:30:128",
        "LogLevel VERBOSE",  # connections and session commands, counted by bench/ from the lab side
        "Subsystem sftp internal-sftp",
        # HOME is the lab host's own home: the login user's real ~/.bashrc (pyenv init and the
        # like, which can block on locks) is never run by the lab's sessions
        f"SetEnv {quote('GB10LAB_ROOT=' + str(hp.root))} {quote(path_env)} {quote('HOME=' + str(hp.root))}",
    ]
    cfg = d / "sshd_config"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def start_sshd(layout: Layout, host: str, port: int, timeout: float = 10.0) -> int:
    """Start (daemonized) the host's sshd and wait until it accepts connections; returns its pid."""
    d = layout.sshd_dir(host)
    cfg = write_sshd_config(layout, host, port)
    pidfile = d / "sshd.pid"
    pidfile.unlink(missing_ok=True)
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    sshd = tool("sshd")
    check = subprocess.run([sshd, "-t", "-f", str(cfg)], capture_output=True, text=True, timeout=15)
    if check.returncode != 0:
        raise RuntimeError(f"sshd -t rejected {cfg}: {check.stderr.strip()}")
    subprocess.run(
        [sshd, "-f", str(cfg), "-E", str(d / "sshd.log")],
        check=True,
        capture_output=True,
        timeout=15,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = read_pid(pidfile)
        if pid and alive(pid) and _accepts(port):
            return pid
        time.sleep(0.05)
    raise RuntimeError(f"sshd for {host} did not come up on 127.0.0.1:{port} in {timeout:.0f}s; see {d / 'sshd.log'}")


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def write_client_files(layout: Layout, ports: dict[str, int], user: str | None = None) -> None:
    """ssh_config with one alias per host (logging in as `user`, default: this user) and a known_hosts
    with the lab host keys."""
    blocks, known = [], []
    for host, port in ports.items():
        alias = f"{host}-llm"
        blocks += [
            f"Host {alias}",
            "    HostName 127.0.0.1",
            f"    Port {port}",
            f"    User {user or user_name()}",
            f"    IdentityFile {quote(str(layout.client_key))}",
            f"    UserKnownHostsFile {quote(str(layout.known_hosts))}",
            "    StrictHostKeyChecking yes",
            "    IdentitiesOnly yes",
            "    PasswordAuthentication no",
            "    ConnectTimeout 10",
            "",
        ]
        kind, key = host_key(layout, host).with_name("ssh_host_ed25519_key.pub").read_text().split()[:2]
        known.append(f"[127.0.0.1]:{port},[{alias}]:{port} {kind} {key}")
    layout.ssh_config.write_text("# gb10dash lab — generated at each lab start\n\n" + "\n".join(blocks))
    layout.known_hosts.write_text("\n".join(known) + "\n")
