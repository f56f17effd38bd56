"""Cost of one browser session of `gb10dash serve`: CPU (% of one core) and RSS of its app process.

Starts `gb10dash serve` on the lab, opens N pages in Debian's headless Chromium, waits until both host
panels show, lets it settle, then reads /proc for each session's app process (the collectors and the UI:
one SSH connection per host each) and for the server over the window. Hosts idle, no demo traffic.

    .venv/bin/python bench/serve_session.py [--seconds 30] [--sessions 1] [--lab-dir DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from lab.servectl import chromium, new_page, served, session_apps

from bench.idle import observe
from bench.measure import CpuWindow
from gb10dash.lab import Lab


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--sessions", type=int, default=1)
    parser.add_argument("--lab-dir", default=str(REPO / ".lab" / "bench"))
    args = parser.parse_args()
    lab = Lab(args.lab_dir)
    started = lab.start()
    try:
        lab.wait_ready(120)
        with served(lab, "--max-sessions", str(args.sessions)) as (url, server), chromium() as browser:
            terms = []
            for _ in range(args.sessions):
                page, term = new_page(browser)
                page.goto(f"{url}/")
                terms.append((page, term))
            for _page, term in terms:
                term.wait_for(lambda t: "all 2 hosts healthy" in t, 90, "both hosts")
            page = terms[0][0]
            page.wait_for_timeout(args.settle * 1000)
            apps = session_apps(server)
            windows = {f"session app {i + 1} (pid {a.pid})": CpuWindow(a.pid) for i, a in enumerate(apps)}
            windows["server (textual-serve)"] = CpuWindow(server.pid)
            observe(windows, args.seconds, tick=lambda: page.wait_for_timeout(10))  # keep Playwright pumping
    finally:
        if started:
            lab.stop()
    print(f"gb10dash serve, {args.sessions} browser session(s), lab hosts idle, {args.seconds:g} s window")
    print(f"{'process':<32} {'CPU % of one core':>18} {'RSS MiB (max)':>14}")
    for name, w in windows.items():
        print(f"{name:<32} {w.percent:>18.2f} {w.rss_max:>14.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
