"""Idle cost of the dashboard alone: CPU (% of one core) and RSS of `gb10dash` watching the lab.

Runs the real app in tmux (a real terminal) against the lab's two hosts, lets it settle,
then reads /proc/<pid>/stat (utime+stime) and /proc/<pid>/status (VmRSS) over the window.
No demo traffic: the hosts are idle, as on a quiet night. Prints one table.
`bench/run.py` measures the same beside the naive collector and llamastat.

    .venv/bin/python bench/dashboard_idle.py [--seconds 60] [--size 160x48]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.idle import DASHBOARD_ENV, dashboard_argv, observe
from bench.measure import CpuWindow, Tmux
from gb10dash.lab import Lab


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--refresh", type=float, default=1.0)
    parser.add_argument("--size", default="160x48")
    parser.add_argument("--lab-dir", default=str(REPO / ".lab" / "bench"))
    args = parser.parse_args()
    lab = Lab(args.lab_dir)
    started = lab.start()
    try:
        lab.wait_ready(120)
        with Tmux("gb10dash-bench", dashboard_argv(lab.config_path, args.refresh), args.size, DASHBOARD_ENV) as term:
            pid = term.pid()
            time.sleep(args.settle)
            window = CpuWindow(pid)
            observe({"dashboard": window}, args.seconds)
    finally:
        if started:
            lab.stop()
    print("| measure | value |\n|---|---|")
    print(
        f"| window | {window.seconds:.0f} s after {args.settle:.0f} s settle, {args.size}, "
        f"{len(lab.hosts)} lab hosts, {args.refresh:g} s refresh |"
    )
    print(f"| dashboard CPU | {window.percent:.2f} % of one core |")
    print(f"| dashboard RSS | {window.rss_max:.1f} MiB max, {window.rss[-1]:.1f} MiB at end |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
