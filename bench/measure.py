"""Measuring helpers shared by the bench scripts: /proc CPU and RSS, process trees, tmux, percentiles."""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    start_ticks: int  # since boot: with the pid, names one process even when pids are reused
    cpu_s: float  # utime + stime of the process itself
    children_cpu_s: float  # cutime + cstime: children it has reaped


def parse_proc_stat(text: str) -> ProcStat:
    """One /proc/PID/stat line (the command name may hold spaces and parentheses)."""
    head, rest = text.rsplit(")", 1)
    fields = rest.split()
    pid = int(head.split("(", 1)[0])
    return ProcStat(
        pid,
        int(fields[1]),
        int(fields[19]),
        (int(fields[11]) + int(fields[12])) / TICK,
        (int(fields[13]) + int(fields[14])) / TICK,
    )


def proc_stat(pid: int) -> ProcStat | None:
    try:
        return parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


def all_procs() -> dict[int, ProcStat]:
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                out[stat.pid] = stat
    return out


def descendants(procs: dict[int, ProcStat], root: int) -> dict[int, ProcStat]:
    """`root` and everything below it in a snapshot of all processes."""
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in procs and pid not in found:
            found[pid] = procs[pid]
            todo += children.get(pid, [])
    return found


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class CpuWindow:
    """CPU seconds a process (and, with `children`, the children it reaped) spends between start and stop."""

    def __init__(self, pid: int, *, children: bool = False):
        self.pid, self.children = pid, children
        self.rss: list[float] = []
        self._cpu0 = self._t0 = self.cpu_s = self.seconds = 0.0

    def _cpu(self) -> float:
        stat = proc_stat(self.pid)
        if stat is None:
            raise RuntimeError(f"process {self.pid} is gone")
        return stat.cpu_s + (stat.children_cpu_s if self.children else 0.0)

    def start(self) -> CpuWindow:
        self._cpu0, self._t0 = self._cpu(), time.monotonic()
        return self

    def sample(self) -> None:
        self.rss.append(rss_mib(self.pid))

    def stop(self) -> CpuWindow:
        self.cpu_s, self.seconds = self._cpu() - self._cpu0, time.monotonic() - self._t0
        self.sample()
        return self

    @property
    def percent(self) -> float:
        return 100 * self.cpu_s / self.seconds if self.seconds else float("nan")

    @property
    def rss_max(self) -> float:
        return max(self.rss) if self.rss else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of the values; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class Tmux:
    """A command running in a detached tmux session of a given size: a real terminal to draw on."""

    def __init__(self, name: str, argv: Sequence[str], size: str = "160x48", env: dict[str, str] | None = None):
        self.name = f"{name}-{os.getpid()}"
        cols, rows = size.split("x")
        assigns = [f"{k}={shlex.quote(v)}" for k, v in {"TERM": "xterm-256color", **(env or {})}.items()]
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                self.name,
                "-x",
                cols,
                "-y",
                rows,
                " ".join(["exec", "env", *assigns, shlex.join(argv)]),
            ],
            check=True,
        )
        self.started = time.monotonic()

    def pid(self, timeout: float = 30) -> int:
        """The pid of the command (the pane's process: `exec` replaced the shell by it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(
                ["tmux", "list-panes", "-t", self.name, "-F", "#{pane_pid}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if out:
                return int(out[0])
            time.sleep(0.05)
        raise RuntimeError(f"tmux session {self.name} did not start")

    def capture(self) -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True, check=False
        ).stdout

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True, check=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def machine() -> str:
    """nproc, CPU model, RAM and the load average now: the line RESULTS.md needs."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kib = 0
    return (
        f"{len(os.sched_getaffinity(0))} CPUs ({model}), {mem_kib / 1024 / 1024:.1f} GiB RAM, "
        f"load average {load_average()}"
    )


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
