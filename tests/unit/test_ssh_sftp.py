"""SFTP reads without a host: a file ends at a short read, a /proc file of many records only at an
empty one, a /proc file the kernel makes in one piece at a short one (one request a poll), and /proc
handles are kept open, reopened when their process has gone, and bounded in number. (The kernel's and
sftp-server's side of this is in tests/lab/test_ssh_transport.py.)"""

from __future__ import annotations

import asyncssh

from gb10dash.transport.ssh_sftp import READ_CHUNK, OpenProcFiles, one_piece, read_from_start


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
        text = f"{path} #{len(self.opened)}\n".encode()
        # as the kernel: a one-piece file whole in one read, a file of many records a page a read
        handle = FakeFile(text * 20, page=READ_CHUNK) if one_piece(path) else FakeFile(text * 2000, page=4096)
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


def test_which_proc_files_come_in_one_piece() -> None:
    assert all(
        map(one_piece, ["/proc/meminfo", "/proc/123/status", "/proc/self/io", "/proc/9/stat", "/proc/pressure/io"])
    )
    assert not any(map(one_piece, ["/proc/self/mountinfo", "/proc/1/maps", "/proc/123/status/x", "/etc/meminfo"]))


async def test_a_one_piece_proc_file_is_one_request_a_poll_a_many_record_one_read_to_its_end() -> None:
    sftp, files = FakeSftp(), OpenProcFiles()
    for _ in range(3):
        assert (await files.read(sftp, "/proc/meminfo", 1 << 20)).count(b"\n") == 20
        assert (await files.read(sftp, "/proc/self/mountinfo", 1 << 20)).count(b"\n") == 2000
    (_, meminfo), (_, mountinfo) = sftp.opened
    assert meminfo.reads == 3  # one request each poll: the short read is its end
    per_poll = -(-len(mountinfo.text) // 4096) + 1  # a page a read, then the empty read
    assert mountinfo.reads == 3 * per_poll
