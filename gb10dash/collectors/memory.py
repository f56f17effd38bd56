"""/proc/meminfo and /proc/PID/status parsers (pure). On GB10 these are the real memory figures."""

from __future__ import annotations

from dataclasses import dataclass

from gb10dash.collectors.commands import read_text
from gb10dash.transport.base import Transport

MEMINFO_KEYS = ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree")
PROC_STATUS_KEYS = ("Name", "State", "Pid", "VmRSS", "VmHWM")


@dataclass(frozen=True)
class MemInfo:
    total_kib: int | None
    available_kib: int | None
    free_kib: int | None
    cached_kib: int | None
    buffers_kib: int | None
    swap_total_kib: int | None
    swap_free_kib: int | None

    @property
    def used_kib(self) -> int | None:
        """MemTotal − MemAvailable (what nvtop, llama.cpp and friends call "used" on GB10)."""
        if self.total_kib is None:
            return None
        if self.available_kib is not None:
            return self.total_kib - self.available_kib
        parts = (self.free_kib, self.buffers_kib, self.cached_kib)
        if any(p is None for p in parts):
            return None
        return self.total_kib - sum(p for p in parts if p is not None)  # kernels before 3.14

    @property
    def used_fraction(self) -> float | None:
        used = self.used_kib
        if used is None or not self.total_kib:
            return None
        return used / self.total_kib


@dataclass(frozen=True)
class ProcessMemory:
    pid: int | None
    name: str | None
    vm_rss_kib: int | None
    vm_hwm_kib: int | None
    state: str | None = None  # e.g. "D (disk sleep)": stuck on a hung NFS mount

    @property
    def is_uninterruptible(self) -> bool:
        return bool(self.state) and self.state.startswith("D")  # type: ignore[union-attr]


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _kib(value: str | None) -> int | None:
    """`127600748 kB` → 127600748; `0` → 0; junk → None."""
    if value is None:
        return None
    parts = value.split()
    if not parts:
        return None
    try:
        number = int(parts[0])
    except ValueError:
        return None
    unit = parts[1].lower() if len(parts) > 1 else "kb"
    scale = {"kb": 1, "mb": 1024, "gb": 1024 * 1024, "b": 1 / 1024}.get(unit)
    return None if scale is None else int(number * scale)


def parse_meminfo(text: str) -> MemInfo:
    """`/proc/meminfo` → MemInfo; ValueError if MemTotal is missing."""
    f = _fields(text)
    total = _kib(f.get("MemTotal"))
    if total is None:
        raise ValueError("meminfo has no MemTotal line (expected /proc/meminfo text)")
    return MemInfo(
        total_kib=total,
        available_kib=_kib(f.get("MemAvailable")),
        free_kib=_kib(f.get("MemFree")),
        cached_kib=_kib(f.get("Cached")),
        buffers_kib=_kib(f.get("Buffers")),
        swap_total_kib=_kib(f.get("SwapTotal")),
        swap_free_kib=_kib(f.get("SwapFree")),
    )


def parse_proc_status(text: str) -> ProcessMemory:
    """`/proc/PID/status` → ProcessMemory (kernel threads have no VmRSS: None)."""
    f = _fields(text)
    if "Pid" not in f and "Name" not in f:
        raise ValueError("proc status has neither Pid: nor Name: (expected /proc/PID/status text)")
    try:
        pid = int(f["Pid"]) if "Pid" in f else None
    except ValueError:
        pid = None
    return ProcessMemory(
        pid=pid,
        name=f.get("Name") or None,
        vm_rss_kib=_kib(f.get("VmRSS")),
        vm_hwm_kib=_kib(f.get("VmHWM")),
        state=f.get("State") or None,
    )


# -- collectors (read over the transport: SFTP for ssh, a plain read locally; no process spawned) --
async def collect_meminfo(transport: Transport) -> MemInfo:
    return parse_meminfo(await read_text(transport, "/proc/meminfo"))


async def collect_process_memory(transport: Transport, pid: int) -> ProcessMemory | None:
    """VmRSS/VmHWM of a process; None when it has gone away."""
    try:
        return parse_proc_status(await read_text(transport, f"/proc/{int(pid)}/status"))
    except FileNotFoundError:
        return None
