"""Remote cost per lab host, counted from the lab side over a window.

- new SSH connections and sessions: the host's sshd log (LogLevel VERBOSE), bytes of the window;
- processes spawned: the proc connector (every fork under the host's sshd, orphans included);
- remote CPU: /proc deltas of the host's processes alive at the end, plus the accounting
  records (acct) of those that ended in the window.
Blind spots: work the host does outside its sshd's tree (the llama-server itself, the
systemctl shim's supervisor) is not counted; CPU of a pid reused within the window could be
mixed up (rare); acct is one file per pid namespace, so a second bench at once would steal it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from bench.acct import Accounting
from bench.cnproc import ProcWatch
from bench.measure import ProcStat, all_procs, descendants
from bench.sshd_log import LogWindow, SshdCounts
from gb10dash.lab import Lab
from gb10dash.lab import sshd as lab_sshd


@dataclass(frozen=True)
class HostCost:
    host: str
    seconds: float
    log: SshdCounts
    forks: int
    execs: int
    cpu_s: float
    programs: dict[str, int]

    @property
    def connections_per_min(self) -> float:
        return 60 * self.log.connections / self.seconds

    @property
    def spawns_per_s(self) -> float:
        return self.forks / self.seconds

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_s / self.seconds


def window_cpu(before: dict[int, ProcStat], after: dict[int, ProcStat], ended: dict[int, float]) -> float:
    """CPU seconds spent in a window by a set of processes (pure).

    `before` / `after`: the set's live processes at the window's ends; `ended`: pid -> total CPU
    of those that ended inside it (from acct). A process alive at the start is counted from there.
    """

    def base(pid: int, start_ticks: int | None = None) -> float:
        old = before.get(pid)
        if old is None or (start_ticks is not None and old.start_ticks != start_ticks):
            return 0.0
        return old.cpu_s

    total = sum(p.cpu_s - base(pid, p.start_ticks) for pid, p in after.items())
    total += sum(cpu - base(pid) for pid, cpu in ended.items() if pid not in after)
    return total


class RemoteCost:
    """`with RemoteCost(lab, workdir) as cost: ...; cost.result()` — per host of the lab."""

    def __init__(self, lab: Lab, workdir: Path):
        self.lab, self.workdir = lab, workdir
        self.roots = {h.name: lab_sshd.read_pid(lab.layout.sshd_dir(h.name) / "sshd.pid") for h in lab.hosts}
        self.logs = {name: LogWindow(lab.layout.sshd_dir(name) / "sshd.log") for name in self.roots}
        self.results: dict[str, HostCost] = {}

    def _trees(self) -> dict[str, dict[int, ProcStat]]:
        procs = all_procs()
        return {name: descendants(procs, pid) for name, pid in self.roots.items() if pid}

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.accounting = Accounting(self.workdir / "acct").__enter__()
        self.before = self._trees()
        self.watch = ProcWatch({name: set(tree) for name, tree in self.before.items()})
        for log in self.logs.values():
            log.start()
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.monotonic() - self.t0
        counts = {name: log.stop() for name, log in self.logs.items()}
        tallies = self.watch.snapshot()
        self.watch.close()
        procs = all_procs()
        self.accounting.__exit__()
        records = self.accounting.records()
        for name, before in self.before.items():
            tally = tallies[name]
            mine = set(before) | tally.pids
            after = {pid: p for pid, p in procs.items() if pid in mine}
            after.update(descendants(procs, self.roots[name] or 0))
            ended = {r.pid: r.cpu_s for r in records if r.pid in mine}
            self.results[name] = HostCost(
                name,
                seconds,
                counts[name],
                tally.forks,
                tally.execs,
                window_cpu(before, after, ended),
                dict(tally.programs.most_common(8)),
            )
