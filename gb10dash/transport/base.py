"""The one interface every transport (ssh, local) implements.

Commands are argv lists, never shell strings: the ssh transport quotes them with
``shlex.join`` for the remote shell, the local transport executes them directly.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass


class TransportError(Exception):
    """The host could not be reached or the command could not be started."""


class CommandTimeout(TransportError):
    """A command did not finish within its timeout (it was killed)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class Transport(abc.ABC):
    """Runs argv commands and reads files on one host."""

    #: name of the host as the config calls it (for messages)
    name: str

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection (no-op for local). Raises TransportError."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection and kill every stream still running."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool: ...

    @abc.abstractmethod
    async def run(self, argv: Sequence[str], *, timeout: float = 10.0, input: str | None = None) -> CommandResult:
        """Run argv to completion; kill it and raise CommandTimeout after timeout seconds."""

    @abc.abstractmethod
    def stream(self, argv: Sequence[str]) -> AsyncIterator[str]:
        """Yield stdout lines (without the newline) of a long-lived command.

        Leaving the iteration (break, cancellation, aclose) kills the process.
        Ends normally when the command exits; raises TransportError if the
        connection drops.
        """

    @abc.abstractmethod
    async def read_file(self, path: str, *, timeout: float = 10.0, max_bytes: int = 4 * 1024 * 1024) -> bytes:
        """Read a (small) file; raises FileNotFoundError / PermissionError / TransportError."""

    async def forward_port(self, remote_host: str, remote_port: int) -> int:
        """A port on 127.0.0.1 here that reaches remote_host:remote_port as seen from the host."""
        raise TransportError(f"{self.name}: this transport cannot forward ports")

    async def stat_path(self, path: str) -> None:
        """stat(path) on the host, apart from everything else: on a hung mount it may never return,
        and must then block nothing but itself (the caller bounds the wait and never starts a second).
        Raises FileNotFoundError / PermissionError / OSError (the host's complaint) / TransportError."""
        result = await self.run(["stat", "--format=%i", "--", path], timeout=STAT_ABANDON_S)
        if not result.ok:
            reason = result.stderr.strip().splitlines()[-1:] or [f"stat exited {result.exit_status}"]
            raise OSError(reason[0])

    async def end_stat_session(self, *, kill: bool) -> None:  # noqa: B027 (a no-op by default)
        """Drop what `stat_path` keeps on the host (a new one is made on the next call); kill=True also
        ends a stat still blocked there. Nothing to do where each stat is its own process."""


#: a `stat_path` still blocked after this long is given up (killed) and a new one may start
STAT_ABANDON_S = 300.0
