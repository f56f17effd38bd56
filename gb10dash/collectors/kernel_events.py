"""The kernel's log, as the faults that take a GB10 host down show there (pure parsers, and the stream).

Followed with `journalctl -k -f -o json` (resumed by cursor, like the unit's log). Three kinds of line
matter, in the formats the NVIDIA driver and the kernel print them:
- `NVRM: Xid (PCI:0000:01:00): 79, pid=1234, name=llama-server, GPU has fallen off the bus.` — a GPU
  error by Xid code (older drivers print `pid='<unknown>', name=<unknown>`; the shortest form is just the
  code);
- `NVRM: nvCheckOkFailedNoLog: Check failed: Out of memory [NV_ERR_NO_MEMORY] (0x00000051) returned from
  _memdescAllocInternal(pMemDesc) @ mem_desc.c:1359` — the driver could not allocate unified memory; on
  GB10 the host may wedge or reset soon after (NVIDIA/open-gpu-kernel-modules#1358);
- `Out of memory: Killed process 1234 (llama-server) total-vm:…` (`Kill process … or sacrifice child` on
  old kernels; `Memory cgroup out of memory: …` inside a cgroup's limit) — the OOM killer.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum

from gb10dash.collectors.journal import JournalEntry, parse_journal_line, read_journal
from gb10dash.transport.base import Transport


class KernelEventKind(StrEnum):
    XID = "xid"
    GPU_NO_MEMORY = "gpu_no_memory"
    OOM_KILL = "oom_kill"


SERVER_PROCESS = "llama-server"

_XID = re.compile(
    r"NVRM: Xid \(PCI:(?P<bus>[0-9A-Fa-f:.]+)\): (?P<code>\d+)"
    r"(?:, pid=(?P<pid>'?<?\w+>?'?), name=(?P<name>[^,]+))?(?:, (?P<rest>.*))?"
)
_NO_MEMORY = re.compile(r"NVRM: .*\[NV_ERR_NO_MEMORY\](?:.*?returned from (?P<where>\w+))?")
_OOM = re.compile(
    r"(?:Memory cgroup out of memory|Out of memory): Kill(?:ed)? process (?P<pid>\d+) \((?P<name>[^)]*)\)"
)


@dataclass(frozen=True, slots=True)
class KernelEvent:
    kind: KernelEventKind
    at: float | None  # epoch seconds (the journal's timestamp)
    message: str  # the kernel's line, as logged
    xid: int | None = None
    pid: int | None = None
    process: str | None = None  # the process the line names (Xid, OOM kill)
    where: str | None = None  # NV_ERR_NO_MEMORY: the driver function that failed

    @property
    def hits_server(self) -> bool:
        """The line names llama-server (the kernel's comm is cut at 15 characters)."""
        return (self.process or "").startswith(SERVER_PROCESS)

    def describe(self) -> str:
        if self.kind is KernelEventKind.XID:
            who = f" ({self.process}, pid {self.pid})" if self.process and self.pid else ""
            return f"GPU Xid {self.xid}{who}"
        if self.kind is KernelEventKind.GPU_NO_MEMORY:
            return "GPU driver out of memory (NV_ERR_NO_MEMORY" + (f" in {self.where})" if self.where else ")")
        return f"OOM killer killed {self.process} (pid {self.pid})"


def parse_kernel_event(message: str, at: float | None = None) -> KernelEvent | None:
    """The event a kernel log line reports, None for any other line."""
    if "NVRM" not in message and "process" not in message:  # most lines: no regex
        return None
    m = _XID.search(message)
    if m:
        pid = m.group("pid")
        name = (m.group("name") or "").strip()
        return KernelEvent(
            KernelEventKind.XID,
            at,
            message,
            xid=int(m.group("code")),
            pid=int(pid) if pid and pid.isdigit() else None,
            process=name if name and name != "<unknown>" else None,
        )
    m = _NO_MEMORY.search(message)
    if m:
        return KernelEvent(KernelEventKind.GPU_NO_MEMORY, at, message, where=m.group("where"))
    m = _OOM.search(message)
    if m:
        return KernelEvent(KernelEventKind.OOM_KILL, at, message, pid=int(m.group("pid")), process=m.group("name"))
    return None


def event_of(entry: JournalEntry) -> KernelEvent | None:
    return parse_kernel_event(entry.message, entry.at)


def kernel_journal_argv(
    *, after_cursor: str | None, lines: int | None = None, since: float | None = None, follow: bool = True
) -> list[str]:
    """`journalctl -k -o json --all --no-pager [-f] [--after-cursor=C | --since=@T] [-n N]`: the kernel's
    log, this boot."""
    argv = ["journalctl", "-k", "-o", "json", "--all", "--no-pager"] + (["-f"] if follow else [])
    if after_cursor:
        argv.append("--after-cursor=" + after_cursor)
    elif since is not None:
        argv.append(f"--since=@{int(since)}")
    if lines is not None:
        argv += ["-n", str(int(lines))]
    return argv


async def stream_kernel_journal(
    transport: Transport, *, after_cursor: str | None, since: float
) -> AsyncIterator[JournalEntry]:
    """Follow the kernel's log: strictly after the cursor when given, else from `since` (epoch seconds).
    Not `-n N`: on a kernel log with no entries yet, journalctl -f (systemd 252) seeks the tail once the
    first entries arrive and shows only the last of them (seen on the lab: 1 of 3)."""
    argv = kernel_journal_argv(after_cursor=after_cursor, since=None if after_cursor else since)
    async for line in transport.stream(argv):
        entry = parse_journal_line(line)
        if entry is not None:
            yield entry


async def collect_kernel_tail(transport: Transport, *, lines: int = 200) -> list[JournalEntry]:
    """The kernel log's last lines (`status`, `check`); ValueError when journalctl fails."""
    _done, entries = await read_journal(
        transport, kernel_journal_argv(after_cursor=None, lines=lines, follow=False), "journalctl -k"
    )
    return entries
