"""SSH transport: one persistent asyncssh connection per host.

Host aliases, HostName, Port, User, IdentityFile and UserKnownHostsFile come
from the ssh config (``~/.ssh/config`` unless the gb10dash config names another
file); host keys are always checked against known_hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shlex
from collections.abc import AsyncIterator, Sequence

import asyncssh

from gb10dash.config import SshSettings
from gb10dash.transport.base import (
    CommandResult,
    CommandTimeout,
    Transport,
    TransportError,
)


def describe_ssh_error(alias: str, exc: BaseException) -> str:
    """One line an operator can act on, for any error asyncssh raises."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return (
            f"{alias}: host key refused ({exc.reason}); the key is unknown or has changed. "
            f"Check it, then add it to known_hosts (e.g. ssh {alias} once, comparing the "
            f"fingerprint with the host's own `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`)"
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return f"{alias}: authentication failed ({exc.reason}); check IdentityFile/User in the ssh config"
    if isinstance(exc, asyncssh.DisconnectError):
        return f"{alias}: disconnected ({exc.reason})"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return f"{alias}: connect timed out"
    if isinstance(exc, ConnectionRefusedError):
        return f"{alias}: connection refused"
    if isinstance(exc, OSError):
        return f"{alias}: {exc.strerror or exc}"
    return f"{alias}: {type(exc).__name__}: {exc}"


_READ_CHUNK = 64 * 1024
_STREAM_WINDOW = 256 * 1024  # SSH channel window of a long-lived stream (nvidia-smi -lms, journalctl -f)
_PROC_HANDLES_KEPT = 8  # /proc files kept open per connection (meminfo, the MainPID's status, io, …)
_log = logging.getLogger(__name__)


@dataclasses.dataclass
class _StatSession:
    """The SFTP session kept for `stat_path`: its own server process on the host, so a stat stuck
    on a hung mount there blocks no other SFTP request (the /proc reads go over the main one)."""

    sftp: asyncssh.SFTPClient
    server: tuple[int, int] | None  # (pid, start time) of its server process, to kill it if stuck


def proc_start_time(stat: bytes) -> tuple[int, int]:
    """(pid, start time in clock ticks) from a /proc/PID/stat text (pure)."""
    head, _, rest = stat.rpartition(b")")
    fields = rest.split()
    if not head or len(fields) < 20:
        raise ValueError("not a /proc/PID/stat text")
    return int(head.split(b" (", 1)[0]), int(fields[19])


class _AcceptNewHostKey(asyncssh.SSHClient):
    """Trusts a host key that known_hosts does not (asyncssh asks only then) if known_hosts has no
    key at all for the host, and keeps it to be recorded; a host with other keys there has a
    CHANGED key: refused."""

    def __init__(self, known_hosts: Sequence[str]):
        self.known_hosts = known_hosts
        self.accepted: tuple[str, asyncssh.SSHKey] | None = None  # (known_hosts host pattern, key)
        self.changed = False

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        for path in self.known_hosts:
            try:
                known = asyncssh.read_known_hosts(path)
            except (OSError, ValueError):
                continue  # missing or unreadable: nothing known from it
            if any(known.match(host, addr, port)):
                self.changed = True
                return False
        self.accepted = (host if port in (22, None) else f"[{host}]:{port}", key)
        return True


def known_hosts_files(alias: str, config: Sequence[str]) -> list[str]:
    """The known_hosts files the ssh config names for alias (UserKnownHostsFile), else ~/.ssh/known_hosts."""
    named = asyncssh.SSHClientConnectionOptions(config=list(config), host=alias).known_hosts
    files = [str(f) for f in named] if isinstance(named, (list, tuple)) and named else ["~/.ssh/known_hosts"]
    return [os.path.expanduser(f) for f in files]


async def _read_from_start(handle: asyncssh.SFTPClientFile, max_bytes: int, *, generated: bool = False) -> bytes:
    """Everything from offset 0 up to max_bytes, a chunk a request: a file's until a short read; a
    generated (/proc) file's until an empty one — the kernel hands out such a file about a page per
    read whatever was asked, so a short read is not its end (a mountinfo of more than 4 KiB would lose
    its last mounts)."""
    data = b""
    while len(data) < max_bytes:
        chunk = await handle.read(min(_READ_CHUNK, max_bytes - len(data)), len(data))
        data += chunk
        if not chunk or (len(chunk) < _READ_CHUNK and not generated):
            break
    return data


async def _close_quietly(handle: asyncssh.SFTPClientFile) -> None:
    with contextlib.suppress(asyncssh.Error, OSError):
        await handle.close()


class SshTransport(Transport):
    def __init__(
        self, name: str, alias: str, settings: SshSettings | None = None, *, accept_new_host_key: bool = False
    ):
        self.name = name
        self.alias = alias
        self.settings = settings or SshSettings()
        self.accept_new_host_key = accept_new_host_key
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._proc_handles: dict[str, asyncssh.SFTPClientFile] = {}  # open /proc files, oldest first
        self._lock = asyncio.Lock()
        self._forwards: dict[tuple[str, int], asyncssh.SSHListener] = {}
        self._stat: _StatSession | None = None
        self._stat_orphan: tuple[int, int] | None = None  # a stat server left blocked by a lost connection
        self.accepted_host_key: str | None = None  # "ALGO SHA256:…" of a key trusted by accept_new_host_key

    @property
    def connected(self) -> bool:
        conn = self._conn
        return conn is not None and not conn.is_closed()

    async def connect(self) -> None:
        async with self._lock:
            if self.connected:
                return
            await self._drop()
            settings = self.settings
            config = [str(settings.config_file)] if settings.config_file else ()
            client = _AcceptNewHostKey(known_hosts_files(self.alias, config)) if self.accept_new_host_key else None
            try:
                self._conn = await asyncio.wait_for(
                    asyncssh.connect(
                        self.alias,
                        config=config,
                        connect_timeout=settings.connect_timeout_s,
                        keepalive_interval=settings.keepalive_interval_s,
                        keepalive_count_max=settings.keepalive_count_max,
                        **({"client_factory": lambda: client} if client else {}),
                    ),
                    timeout=settings.connect_timeout_s + 1,
                )
            except asyncssh.HostKeyNotVerifiable as exc:
                offered = await self._offered_key(config)
                if client is not None and client.changed:
                    raise TransportError(
                        f"{self.alias}: HOST KEY CHANGED: known_hosts holds another key for "
                        f"this host{offered}. Someone may be intercepting the connection, or the "
                        f"host was reinstalled; accept_new_host_key never accepts a changed key: "
                        f"check it and edit known_hosts yourself"
                    ) from exc
                raise TransportError(describe_ssh_error(self.alias, exc) + offered) from exc
            except (TimeoutError, OSError, asyncssh.Error, ValueError) as exc:
                raise TransportError(describe_ssh_error(self.alias, exc)) from exc
            if client is not None and client.accepted is not None:
                self._record_host_key(client.known_hosts[0], *client.accepted)

    def _record_host_key(self, path: str, pattern: str, key: asyncssh.SSHKey) -> None:
        """Append a newly trusted key to known_hosts (accept_new_host_key) and say so."""
        algorithm, data = key.export_public_key("openssh").decode().split()[:2]
        self.accepted_host_key = f"{algorithm} {key.get_fingerprint('sha256')}"
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        with open(path, "a", encoding="ascii") as known:
            known.write(f"{pattern} {algorithm} {data}\n")
        _log.warning(
            "%s: accepted the new host key %s (accept_new_host_key = true) and added it to %s",
            self.alias,
            self.accepted_host_key,
            path,
        )

    async def _offered_key(self, config: Sequence[str]) -> str:
        """The refused key's type and SHA256 fingerprint, to compare with the host's own."""
        try:
            key = await asyncio.wait_for(
                asyncssh.get_server_host_key(self.alias, config=config), self.settings.connect_timeout_s
            )
        except (TimeoutError, OSError, asyncssh.Error, ValueError):
            return ""
        if key is None:
            return ""
        return f"; the host offered {key.get_algorithm()} {key.get_fingerprint('sha256')}"

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _drop(self) -> None:
        for listener in self._forwards.values():
            listener.close()
        self._forwards.clear()
        if self._stat is not None:
            self._stat.sftp.exit()
            self._stat = None
        self._proc_handles.clear()  # closed with their SFTP session
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._conn.wait_closed(), 2)
            self._conn = None

    def _connection(self) -> asyncssh.SSHClientConnection:
        if not self.connected:
            raise TransportError(f"{self.alias}: not connected")
        assert self._conn is not None
        return self._conn

    async def run(self, argv: Sequence[str], *, timeout: float = 10.0, input: str | None = None) -> CommandResult:
        conn = self._connection()
        # a command that reads stdin cannot be guarded by stdin EOF; it relies on sshd alone
        command = shlex.join(argv) if input is not None else guarded(argv)
        try:
            proc = await conn.create_process(command, encoding="utf-8", errors="replace")
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(input), timeout)
        except TimeoutError:
            raise CommandTimeout(f"{self.alias}: {shlex.join(argv)} timed out after {timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        finally:
            _terminate(proc)
        status = proc.exit_status
        if status is None or status < 0:  # killed by a signal on the remote side
            status = 128 + 15
        return CommandResult(tuple(argv), status, stdout or "", stderr or "")

    async def stream(self, argv: Sequence[str]) -> AsyncIterator[str]:
        conn = self._connection()
        try:
            # a small window bounds what waits unread when we fall behind (asyncssh pauses reading at
            # the window; its 2 MiB default is ~2.6 MiB of str a stream): the sender waits instead
            proc = await conn.create_process(guarded(argv), encoding="utf-8", errors="replace", window=_STREAM_WINDOW)
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        try:
            async for line in proc.stdout:
                if not line:  # asyncssh sometimes hands over '' at EOF: that is not an (empty) line
                    break
                yield line.rstrip("\n")
            if conn.is_closed():
                raise TransportError(f"{self.alias}: connection lost during {argv[0]}")
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        finally:
            _terminate(proc)

    async def read_file(self, path: str, *, timeout: float = 10.0, max_bytes: int = 4 * 1024 * 1024) -> bytes:
        try:
            sftp = await self._sftp_client()
            async with asyncio.timeout(timeout):
                if path.startswith("/proc/"):
                    return await self._read_proc(sftp, path, max_bytes)
                # files report their size but /proc's say 0: read 64 KiB at a time, one request each,
                # until a short read; block_size=0: asyncssh's parallel reader (a task per read, and a
                # fan-out into block requests for read(max)) is not used
                async with sftp.open(path, "rb", block_size=0) as handle:
                    return await _read_from_start(handle, max_bytes)
        except asyncssh.SFTPNoSuchFile:
            raise FileNotFoundError(path) from None
        except asyncssh.SFTPPermissionDenied:
            raise PermissionError(path) from None
        except TimeoutError:
            raise CommandTimeout(f"{self.alias}: reading {path} timed out after {timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc

    async def _read_proc(self, sftp: asyncssh.SFTPClient, path: str, max_bytes: int) -> bytes:
        """A /proc file polled every second: its handle is kept open and read again from offset 0 (the
        kernel regenerates the text), one SFTP request a poll instead of open + read + close. A handle
        whose process has gone fails (ESRCH); it is dropped and the path opened afresh, which tells a
        gone process (no such file) from a reused pid (a new process's file)."""
        handle = self._proc_handles.pop(path, None)
        if handle is not None:
            try:
                data = await _read_from_start(handle, max_bytes, generated=True)
                self._proc_handles[path] = handle  # most recently used last
                return data
            except asyncssh.SFTPError:
                await _close_quietly(handle)
        handle = await sftp.open(path, "rb", block_size=0)
        try:
            data = await _read_from_start(handle, max_bytes, generated=True)
        except BaseException:
            await _close_quietly(handle)
            raise
        self._proc_handles[path] = handle
        while len(self._proc_handles) > _PROC_HANDLES_KEPT:
            await _close_quietly(self._proc_handles.pop(next(iter(self._proc_handles))))
        return data

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        conn = self._connection()
        if self._sftp is None:
            self._sftp = await asyncio.wait_for(conn.start_sftp_client(), self.settings.connect_timeout_s)
        return self._sftp

    async def stat_path(self, path: str) -> None:
        session = self._stat or await self._open_stat_session()
        try:
            await session.sftp.stat(path)
        except asyncssh.SFTPNoSuchFile:
            raise FileNotFoundError(path) from None
        except asyncssh.SFTPPermissionDenied:
            raise PermissionError(path) from None
        except asyncssh.SFTPConnectionLost as exc:
            if not self.connected and session.server is not None:
                self._stat_orphan = session.server  # killed on the next session, if still blocked there
            raise TransportError(f"{self.alias}: stat {path}: {exc.reason}") from None
        except asyncssh.SFTPError as exc:
            raise OSError(f"stat {path}: {exc.reason}") from None
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc

    async def _open_stat_session(self) -> _StatSession:
        conn = self._connection()
        if self._stat_orphan is not None:
            orphan, self._stat_orphan = self._stat_orphan, None
            await self._kill_stat_server(orphan)
        try:
            sftp = await asyncio.wait_for(conn.start_sftp_client(), self.settings.connect_timeout_s)
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        server = None
        with contextlib.suppress(asyncssh.Error, OSError, ValueError, asyncio.TimeoutError):
            async with asyncio.timeout(self.settings.connect_timeout_s):  # its own /proc/self: the server
                async with sftp.open("/proc/self/stat", "rb", block_size=4096) as handle:
                    server = proc_start_time(await handle.read(4096))
        self._stat = _StatSession(sftp, server)
        return self._stat

    async def end_stat_session(self, *, kill: bool) -> None:
        session, self._stat = self._stat, None
        if session is None:
            return
        if kill and session.server is not None and self.connected:
            await self._kill_stat_server(session.server)
        session.sftp.exit()

    async def _kill_stat_server(self, server: tuple[int, int]) -> None:
        """SIGKILL a stat session's server stuck in the kernel (an SFTP subsystem cannot be signalled
        over SSH, and a hung FUSE or NFS wait ends only on SIGKILL); never a reused pid."""
        pid = server[0]
        try:
            now = proc_start_time(await self.read_file(f"/proc/{pid}/stat", timeout=3))
        except (OSError, TransportError, ValueError):
            return  # gone already
        if now == server:
            with contextlib.suppress(TransportError):
                await self.run(["kill", "-KILL", str(pid)], timeout=5)

    async def forward_port(self, remote_host: str, remote_port: int) -> int:
        """A local 127.0.0.1 port forwarded to remote_host:remote_port over this connection."""
        key = (remote_host, remote_port)
        listener = self._forwards.get(key)
        if listener is None:
            conn = self._connection()
            try:
                listener = await conn.forward_local_port("127.0.0.1", 0, remote_host, remote_port)
            except (asyncssh.Error, OSError) as exc:
                raise TransportError(describe_ssh_error(self.alias, exc)) from exc
            self._forwards[key] = listener
        return listener.get_port()


# Runs "$@" with stdin from /dev/null while a watcher reads the channel's stdin: when the
# channel closes (we stop a stream, a command times out, the connection drops) the watcher
# sees EOF and sends TERM to the command. The shell execs the command (same pid, $$) and the
# watcher is a subshell reading with the `read` builtin: two processes per command (the
# session and the watcher), no `cat`. The watcher kills only while $$ is still its parent
# (its own /proc/self/stat), so a command that ended and whose pid was reused is never hit.
# The script is constant; argv are positional parameters, quoted with shlex.join.
_GUARD_SCRIPT = (
    "exec 3<&0; { while read -r _; do :; done; read -r _ _ _ pp _ </proc/self/stat; "
    '[ "$pp" != "$$" ] || kill -TERM "$$"; } <&3 >/dev/null 2>&1 & exec "$@" </dev/null 3<&-'
)


def guarded(argv: Sequence[str]) -> str:
    """The remote command line for argv: quoted, and killed when our channel closes."""
    if not argv:
        raise ValueError("empty argv")
    return shlex.join(["sh", "-c", _GUARD_SCRIPT, "gb10dash", *argv])


def _terminate(proc: asyncssh.SSHClientProcess) -> None:
    """Close the channel; the guard script on the host then ends the command."""
    if not proc.is_closing():
        proc.close()
