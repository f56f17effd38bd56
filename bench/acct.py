"""BSD process accounting (acct(2), version 3 records): the CPU of processes that ended.

`Accounting(path)` switches accounting on into a file and off again (root, CAP_SYS_PACCT;
one accounting file per pid namespace, so two benches at once would take it from each
other). `parse_acct` is pure: bytes of the file in, records out.
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Self

_RECORD = struct.Struct("<BBHIIIIIIf8H16s")  # struct acct_v3, 64 bytes
AHZ = 100  # the unit of the comp_t times in a record


@dataclass(frozen=True)
class AcctRecord:
    pid: int
    ppid: int
    comm: str
    cpu_s: float  # user + system
    elapsed_s: float
    forked_only: bool  # forked but never exec'd


def comp_t(value: int) -> int:
    """Decode a comp_t: 13-bit mantissa, 3-bit base-8 exponent."""
    return (value & 0x1FFF) << (3 * (value >> 13))


def parse_acct(data: bytes) -> list[AcctRecord]:
    records = []
    for offset in range(0, len(data) - _RECORD.size + 1, _RECORD.size):
        flag, version, _tty, _exit, _uid, _gid, pid, ppid, _btime, etime, utime, stime, *_rest, comm = (
            _RECORD.unpack_from(data, offset)
        )
        if version != 3:
            raise ValueError(f"acct record at byte {offset}: version {version}, only 3 is known")
        records.append(
            AcctRecord(
                pid,
                ppid,
                comm.split(b"\0", 1)[0].decode(errors="replace"),
                (comp_t(utime) + comp_t(stime)) / AHZ,
                etime / AHZ,
                bool(flag & 0x1),
            )
        )
    return records


class Accounting:
    def __init__(self, path: Path):
        self.path = path
        self._libc = ctypes.CDLL(None, use_errno=True)

    def __enter__(self) -> Self:
        self.path.write_bytes(b"")
        if self._libc.acct(str(self.path).encode()) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"acct({self.path}): {os.strerror(err)} (needs root / CAP_SYS_PACCT)")
        return self

    def __exit__(self, *exc: object) -> None:
        self._libc.acct(None)

    def records(self) -> list[AcctRecord]:
        return parse_acct(self.path.read_bytes())
