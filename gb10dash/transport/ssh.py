"""SSH transport: one persistent asyncssh connection per host.

Host aliases, HostName, Port, User, IdentityFile and UserKnownHostsFile come
from the ssh config (``~/.ssh/config`` unless the gb10dash config names another
file); host keys are always checked against known_hosts.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import AsyncIterator, Sequence

import asyncssh

from gb10dash.config import SshSettings
from gb10dash.transport.base import CommandResult, CommandTimeout, Transport, TransportError


def describe_ssh_error(alias: str, exc: BaseException) -> str:
    """One line an operator can act on, for any error asyncssh raises."""
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return (f"{alias}: host key refused ({exc.reason}); the key is unknown or has changed. "
                f"Check it, then add it to known_hosts (e.g. ssh {alias} once, comparing the "
                f"fingerprint with the host's own `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`)")
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


class SshTransport(Transport):
    def __init__(self, name: str, alias: str, settings: SshSettings | None = None):
        self.name = name
        self.alias = alias
        self.settings = settings or SshSettings()
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = asyncio.Lock()
        self._forwards: dict[tuple[str, int], asyncssh.SSHListener] = {}

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
            try:
                self._conn = await asyncio.wait_for(
                    asyncssh.connect(
                        self.alias,
                        config=config,
                        connect_timeout=settings.connect_timeout_s,
                        keepalive_interval=settings.keepalive_interval_s,
                        keepalive_count_max=settings.keepalive_count_max,
                    ),
                    timeout=settings.connect_timeout_s + 1,
                )
            except asyncssh.HostKeyNotVerifiable as exc:
                offered = await self._offered_key(config)
                raise TransportError(describe_ssh_error(self.alias, exc) + offered) from exc
            except (OSError, asyncssh.Error, asyncio.TimeoutError, ValueError) as exc:
                raise TransportError(describe_ssh_error(self.alias, exc)) from exc

    async def _offered_key(self, config: Sequence[str]) -> str:
        """The refused key's type and SHA256 fingerprint, to compare with the host's own."""
        try:
            key = await asyncio.wait_for(asyncssh.get_server_host_key(self.alias, config=config),
                                         self.settings.connect_timeout_s)
        except (OSError, asyncssh.Error, asyncio.TimeoutError, ValueError):
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

    async def run(self, argv: Sequence[str], *, timeout: float = 10.0,
                  input: str | None = None) -> CommandResult:
        conn = self._connection()
        # a command that reads stdin cannot be guarded by stdin EOF; it relies on sshd alone
        command = shlex.join(argv) if input is not None else guarded(argv)
        try:
            proc = await conn.create_process(command, encoding="utf-8", errors="replace")
        except (asyncssh.Error, OSError) as exc:
            raise TransportError(describe_ssh_error(self.alias, exc)) from exc
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(input), timeout)
        except asyncio.TimeoutError:
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
            proc = await conn.create_process(guarded(argv), encoding="utf-8", errors="replace")
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

    async def read_file(self, path: str, *, timeout: float = 10.0,
                        max_bytes: int = 4 * 1024 * 1024) -> bytes:
        try:
            sftp = await self._sftp_client()
            async with asyncio.timeout(timeout):
                # /proc files report size 0 and are small: read 64 KiB at a time, one request each,
                # until a short read (a plain read(max) would fan out into parallel block requests)
                async with sftp.open(path, "rb", block_size=_READ_CHUNK) as handle:
                    data = b""
                    while len(data) < max_bytes:
                        chunk = await handle.read(min(_READ_CHUNK, max_bytes - len(data)))
                        data += chunk
                        if len(chunk) < _READ_CHUNK:
                            return data
                    return data
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
            self._sftp = await asyncio.wait_for(conn.start_sftp_client(), self.settings.connect_timeout_s)
        return self._sftp

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
# sees EOF and sends TERM to the command. The script is constant; argv are positional
# parameters, quoted with shlex.join, never part of the script text.
_GUARD_SCRIPT = (
    'exec 3<&0; "$@" </dev/null 3<&- & p=$!; '
    '{ cat >/dev/null 2>&1; kill -TERM "$p" 2>/dev/null; } <&3 >/dev/null 2>&1 & w=$!; '
    'exec 3<&-; wait "$p"; s=$?; kill "$w" 2>/dev/null; exit "$s"'
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
