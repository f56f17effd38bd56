"""SFTP reads without a host: a file ends at a short read, a /proc file only at an empty one, and
/proc handles are kept open, reopened when their process has gone, and bounded in number."""

from __future__ import annotations

import asyncssh

from gb10dash.transport.ssh_sftp import READ_CHUNK, OpenProcFiles, read_from_start


class FakeFile:
    """Hands out `text` at most `page` bytes a read, like the kernel's generated files."""

    def __init__(self, text: bytes, page: int = READ_CHUNK) -> None:
        self.text, self.page, self.reads, self.closed, self.gone = text, page, 0, False, False

    async def read(self, size: int, offset: int) -> bytes:
        if self.gone:
            raise asyncssh.SFTPError(asyncssh.FX_FAILURE, "No such process")
        self.reads += 1
        return self.text[offset : offset + min(size, self.page)]

    async def close(self) -> None:
        self.closed = True


class FakeSftp:
    def __init__(self) -> None:
        self.opened: list[tuple[str, FakeFile]] = []

    async def open(self, path: str, mode: str, block_size: int) -> FakeFile:
        assert (mode, block_size) == ("rb", 0)
        handle = FakeFile(f"{path} #{len(self.opened)}\n".encode() * 2000, page=4096)
        self.opened.append((path, handle))
        return handle


async def test_a_file_ends_at_a_short_read_a_generated_one_at_an_empty_one() -> None:
    text = b"x" * 10_000
    assert await read_from_start(FakeFile(text, page=4096), 1 << 20) == text[:4096]
    assert await read_from_start(FakeFile(text, page=4096), 1 << 20, generated=True) == text
    assert await read_from_start(FakeFile(text), 100) == text[:100]


async def test_proc_handles_are_kept_reopened_when_gone_and_bounded() -> None:
    sftp, files = FakeSftp(), OpenProcFiles(kept=2)
    first = await files.read(sftp, "/proc/meminfo", 1 << 20)
    assert await files.read(sftp, "/proc/meminfo", 1 << 20) == first
    assert len(sftp.opened) == 1
    sftp.opened[0][1].gone = True  # its process ended: the path is opened afresh
    assert (await files.read(sftp, "/proc/meminfo", 1 << 20)).startswith(b"/proc/meminfo #1")
    assert sftp.opened[0][1].closed
    await files.read(sftp, "/proc/1/status", 1 << 20)
    await files.read(sftp, "/proc/1/io", 1 << 20)
    assert [handle.closed for _, handle in sftp.opened[1:]] == [True, False, False]  # the least recent went
