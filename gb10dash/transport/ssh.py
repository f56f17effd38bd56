"""SSH transport: one persistent asyncssh connection per host.

Host aliases, HostName, Port, User, IdentityFile and UserKnownHostsFile come
from the ssh config (``~/.ssh/config`` unless the gb10dash config names another
file); host keys are always checked against known_hosts (ssh_host_keys: which files, trust on
first use); files are read over SFTP (ssh_sftp: chunked reads, the /proc files kept open).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shlex
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from gb10dash.config import SshSettings
from gb10dash.transport.base import (
    CommandResult,
    CommandTimeout,
    Transport,
    TransportError,
)
from gb10dash.transport.ssh_sftp import OpenProcFiles, read_from_start

if TYPE_CHECKING:  # asyncssh (and cryptography: ~150 ms, ~16 MiB) is imported at the first connection,
    # after the dashboard's first frame: its functions import it where they use it
    import asyncssh


def describe_ssh_error(alias: str, exc: BaseException) -> str:
    """One line an operator can act on, for any error asyncssh raises."""
    import asyncssh

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


_STREAM_WINDOW = 256 * 1024  # SSH channel window of a long-lived stream (nvidia-smi -lms, journalctl -f)
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
        self._proc_files = OpenProcFiles()
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
        import asyncssh

        from gb10dash.transport.ssh_host_keys import (
            AcceptNewHostKey,
            changed_key_message,
            known_hosts_files,
            offered_key,
        )

        async with self._lock:
            if self.connected:
                return
            await self._drop()
            settings = self.settings
            config = [str(settings.config_file)] if settings.config_file else ()
            client = AcceptNewHostKey(known_hosts_files(self.alias, config)) if self.accept_new_host_key else None
            try:
                async with asyncio.timeout(settings.connect_timeout_s + 1):
                    self._conn = await asyncssh.connect(
                        self.alias,
                        config=config,
                        connect_timeout=settings.connect_timeout_s,
                        keepalive_interval=settings.keepalive_interval_s,
                        keepalive_count_max=settings.keepalive_count_max,
                        **({"client_factory": lambda: client} if client else {}),
                    )
            except asyncssh.HostKeyNotVerifiable as exc:
                offered = await offered_key(self.alias, config, settings.connect_timeout_s)
                if client is not None and client.changed:
                    raise TransportError(changed_key_message(self.alias, offered)) from exc
                raise TransportError(describe_ssh_error(self.alias, exc) + offered) from exc
            except (TimeoutError, OSError, asyncssh.Error, ValueError) as exc:
                raise TransportError(describe_ssh_error(self.alias, exc)) from exc
            if client is not None and client.accepted is not None:
                self._record_host_key(client.known_hosts[0], *client.accepted)

    def _record_host_key(self, path: str, pattern: str, key: asyncssh.SSHKey) -> None:
        """Append a newly trusted key to known_hosts (accept_new_host_key) and say so."""
        from gb10dash.transport.ssh_host_keys import append_known_host, key_fingerprint

        self.accepted_host_key = key_fingerprint(key)
        append_known_host(path, pattern, key)
        _log.warning(
            "%s: accepted the new host key %s (accept_new_host_key = true) and added it to %s",
            self.alias,
            self.accepted_host_key,
            path,
        )

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
        self._proc_files.forget()  # closed with their SFTP session
        if self._sftp is not None:
            self._sftp.exit()
            self._sftp = None
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self._conn.wait_closed()
            self._conn = None

    def _connection(self) -> asyncssh.SSHClientConnection:
        if not self.connected:
            raise TransportError(f"{self.alias}: not connected")
        assert self._conn is not None
        return self._conn

    async def run(self, argv: Sequence[str], *, timeout: float = 10.0, input: str | None = None) -> CommandResult:
        import asyncssh

        conn = self._connection()
        # a command that reads stdin cannot be guarded by stdin EOF; it relies on sshd alone
        command = shlex.join(argv) if input is not None else guarded(argv)
        try:
            proc = await conn.create_process(command, encoding="utf-8", errors="replace")
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        try:
            async with asyncio.timeout(timeout):
                stdout, stderr = await proc.communicate(input)
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
        import asyncssh

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
        import asyncssh

        try:
            sftp = await self._sftp_client()
            async with asyncio.timeout(timeout):
                if path.startswith("/proc/"):
                    return await self._proc_files.read(sftp, path, max_bytes)
                # files report their size but /proc's say 0: read 64 KiB at a time, one request each,
                # until a short read; block_size=0: asyncssh's parallel reader (a task per read, and a
                # fan-out into block requests for read(max)) is not used
                async with sftp.open(path, "rb", block_size=0) as handle:
                    return await read_from_start(handle, max_bytes)
        except asyncssh.SFTPNoSuchFile:
            raise FileNotFoundError(path) from None
        except asyncssh.SFTPPermissionDenied:
            raise PermissionError(path) from None
        except TimeoutError:
            raise CommandTimeout(f"{self.alias}: reading {path} timed out after {timeout:g} s") from None
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        conn = self._connection()
        if self._sftp is None:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                self._sftp = await conn.start_sftp_client()
        return self._sftp

    async def stat_path(self, path: str) -> None:
        import asyncssh

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
        import asyncssh

        conn = self._connection()
        if self._stat_orphan is not None:
            orphan, self._stat_orphan = self._stat_orphan, None
            await self._kill_stat_server(orphan)
        try:
            async with asyncio.timeout(self.settings.connect_timeout_s):
                sftp = await conn.start_sftp_client()
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
        import asyncssh

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
