"""Idle cost of the dashboard: CPU (% of one core) and RSS of `gb10dash` watching the lab.

Runs the real app in tmux (a real terminal) against the lab's two hosts, lets it settle,
then reads /proc/<pid>/stat (utime+stime) and /proc/<pid>/status (VmRSS) over the window.
No demo traffic: the hosts are idle, as on a quiet night. Prints one table.

    .venv/bin/python bench/dashboard_idle.py [--seconds 60] [--size 160x48]
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gb10dash.lab import Lab  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def app_pid(session: str, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                             capture_output=True, text=True).stdout.split()
        if out:
            children = subprocess.run(["pgrep", "-P", out[0]], capture_output=True, text=True).stdout.split()
            for pid in children + out:
                if "gb10dash" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                    return int(pid)
        time.sleep(0.2)
    raise SystemExit("bench: the dashboard did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--size", default="160x48")
    parser.add_argument("--lab-dir", default=str(REPO / ".lab" / "bench"))
    args = parser.parse_args()
    cols, rows = args.size.split("x")
    lab = Lab(args.lab_dir)
    started = lab.start()
    lab.wait_ready(120)
    session = f"gb10dash-bench-{os.getpid()}"
    command = shlex.join([str(REPO / ".venv" / "bin" / "gb10dash"), "--config", str(lab.config_path)])
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", cols, "-y", rows,
                    f"TERM=xterm-256color {command}"], check=True)
    try:
        pid = app_pid(session)
        time.sleep(args.settle)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        rss_samples = []
        while time.monotonic() - t0 < args.seconds:
            time.sleep(1.0)
            rss_samples.append(rss_mib(pid))
        cpu1, t1 = cpu_seconds(pid), time.monotonic()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        if started:
            lab.stop()
    cpu_pct = 100 * (cpu1 - cpu0) / (t1 - t0)
    print(f"| measure | value |\n|---|---|")
    print(f"| window | {t1 - t0:.0f} s after {args.settle:.0f} s settle, {args.size}, 2 lab hosts, 1 s refresh |")
    print(f"| dashboard CPU | {cpu_pct:.2f} % of one core |")
    print(f"| dashboard RSS | {max(rss_samples):.1f} MiB max, {rss_samples[-1]:.1f} MiB at end |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
