"""Shared by bench/soak.py and bench/flood.py: the real dashboard (headless Textual pilot) against the
lab, and this process's figures (RSS, asyncio tasks, open fds, CPU seconds)."""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gb10dash.config import load_config
from gb10dash.lab import Lab
from gb10dash.ui.app import Gb10DashApp

HOSTS = ("pegasus", "stella")


@dataclass(frozen=True)
class Figures:
    at: float
    rss_kib: int
    tasks: int
    fds: int
    cpu_s: float

    @classmethod
    def now(cls) -> Figures:
        with open("/proc/self/status") as status:
            rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            time.monotonic(),
            rss,
            len(asyncio.all_tasks()),
            len(os.listdir("/proc/self/fd")),
            usage.ru_utime + usage.ru_stime,
        )

    def line(self, label: str) -> str:
        return f"{label:>8}: RSS {self.rss_kib / 1024:7.1f} MiB, tasks {self.tasks:3d}, fds {self.fds:3d}, CPU {self.cpu_s:7.1f} s"


def start_lab(lab_dir: str) -> tuple[Lab, bool]:
    lab = Lab(lab_dir)
    started = lab.start()
    lab.wait_ready(120)
    return lab, started


def make_app(lab: Lab, refresh_s: float) -> Gb10DashApp:
    return Gb10DashApp(load_config(lab.config_path), refresh_s=refresh_s)


async def wait_healthy(app: Gb10DashApp, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(h in app.shown and app.shown[h].healthy for h in HOSTS):
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard did not show both lab hosts healthy")
        await asyncio.sleep(0.1)


async def key_latency(app: Gb10DashApp, pilot, key: str = "n") -> float:
    """Seconds from pressing `key` (next host) until the log pane shows the newly focused host."""
    from gb10dash.ui.widgets.log_pane import LogPane

    log = app.query_one(LogPane)
    before = app.focused_host
    started = time.perf_counter()
    await pilot.press(key)
    while log.host == before:
        await asyncio.sleep(0.001)
    await pilot.pause()
    return time.perf_counter() - started


def describe(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"n={len(values)} min {ordered[0] * scale:.0f} / median {statistics.median(ordered) * scale:.0f} / "
        f"p95 {p95 * scale:.0f} / max {ordered[-1] * scale:.0f} {unit}"
    )
