"""SFTP reads for the ssh transport: a file from its start, a chunk a request, and the /proc files
polled every second kept open between polls (one SFTP request a poll instead of three; for a file the
kernel makes in one piece, one instead of two).

Every file here is opened in binary mode ("rb", no encoding): asyncssh then hands out bytes.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the ssh transport imports asyncssh at its first connection
    import asyncssh

READ_CHUNK = 64 * 1024
PROC_HANDLES_KEPT = 8  # /proc files kept open per connection (meminfo, the MainPID's status, io, …)

#: /proc files the kernel writes in one piece (single_open: one show call, its buffer grown until the
#: whole text fits): a read that asks for more than the text hands out all of it, so a short read is
#: their end — one SFTP request a poll, not a second one for the empty read. Files of many records
#: (mountinfo, maps) are handed out about a page a read and are read until an empty read.
ONE_PIECE = re.compile(
    r"/proc/(?:meminfo|uptime|loadavg|pressure/(?:cpu|memory|io)|(?:self|\d+)/(?:status|io|stat|statm))"
)


def one_piece(path: str) -> bool:
    return ONE_PIECE.fullmatch(path) is not None


async def read_from_start(handle: asyncssh.SFTPClientFile, max_bytes: int, *, generated: bool = False) -> bytes:
    """Everything from offset 0 up to max_bytes, a chunk a request: a file's until a short read; a
    generated (/proc) file's until an empty one — the kernel hands out such a file about a page per
    read whatever was asked, so a short read is not its end (a mountinfo of more than 4 KiB would lose
    its last mounts)."""
    data = b""
    while len(data) < max_bytes:
        # asyncssh types read() as AnyStr (str for a file opened with an encoding): ours are binary
        chunk: bytes = await handle.read(min(READ_CHUNK, max_bytes - len(data)), len(data))
        data += chunk
        if not chunk or (len(chunk) < READ_CHUNK and not generated):
            break
    return data


async def close_quietly(handle: asyncssh.SFTPClientFile) -> None:
    import asyncssh

    with contextlib.suppress(asyncssh.Error, OSError):
        await handle.close()


class OpenProcFiles:
    """A /proc file polled every second: its handle is kept open and read again from offset 0 (the
    kernel regenerates the text), one SFTP request a poll instead of open + read + close. A handle
    whose process has gone fails (ESRCH); it is dropped and the path opened afresh, which tells a
    gone process (no such file) from a reused pid (a new process's file). The least recently read
    handles beyond `kept` are closed."""

    def __init__(self, kept: int = PROC_HANDLES_KEPT) -> None:
        self.kept = kept
        self._handles: dict[str, asyncssh.SFTPClientFile] = {}  # least recently read first

    def forget(self) -> None:
        """The SFTP session that opened the handles is gone, and they with it."""
        self._handles.clear()

    async def read(self, sftp: asyncssh.SFTPClient, path: str, max_bytes: int) -> bytes:
        import asyncssh

        handle = self._handles.pop(path, None)
        if handle is not None:
            try:
                data = await read_from_start(handle, max_bytes, generated=not one_piece(path))
                self._handles[path] = handle  # most recently used last
                return data
            except asyncssh.SFTPError:
                await close_quietly(handle)
        handle = await sftp.open(path, "rb", block_size=0)
        try:
            data = await read_from_start(handle, max_bytes, generated=not one_piece(path))
        except BaseException:
            await close_quietly(handle)
            raise
        self._handles[path] = handle
        while len(self._handles) > self.kept:
            await close_quietly(self._handles.pop(next(iter(self._handles))))
        return data
