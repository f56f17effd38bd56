"""CPU and RSS of `gb10dash exporter` against the lab: its 2 hosts, and a fleet of N ssh aliases.

    .venv/bin/python bench/exporter_cpu.py --lab-dir /tmp/lab-x [--seconds 60] [--fleet 16] [--scrape 1]

The exporter runs as a child process; after a settle time its CPU (user + system, psutil) is
measured over the window while /metrics is scraped every --scrape seconds (as Prometheus would).
Prints one line per configuration: hosts, CPU % of one core, max RSS, scrape time, series count.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gb10dash.lab import Lab
from gb10dash.lab.fleet import write_fleet


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(config: Path, seconds: float, settle: float, scrape_s: float) -> str:
    port = free_port()
    log = config.parent / "exporter-bench.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gb10dash", "--config", str(config), "exporter", "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
    try:
        p = psutil.Process(proc.pid)
        time.sleep(settle)
        url = f"http://127.0.0.1:{port}/metrics"
        before, t0 = p.cpu_times(), time.monotonic()
        took, rss, lines = [], 0, 0
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            while time.monotonic() - t0 < seconds:
                s0 = time.monotonic()
                body = client.get(url).text
                took.append(time.monotonic() - s0)
                lines = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
                rss = max(rss, p.memory_info().rss)
                time.sleep(max(0.0, scrape_s - (time.monotonic() - s0)))
        after, elapsed = p.cpu_times(), time.monotonic() - t0
        cpu = (after.user + after.system - before.user - before.system) / elapsed * 100
        up = body.count("gb10dash_host_up{") and sum(
            1 for line in body.splitlines() if line.startswith("gb10dash_host_up{") and line.endswith(" 1.0")
        )
        return (
            f"CPU {cpu:.2f} % of one core over {elapsed:.0f} s, RSS max {rss / 2**20:.0f} MiB, "
            f"scrape median {statistics.median(took) * 1000:.1f} ms, {lines} series, {up} hosts up"
        )
    finally:
        t_stop = time.monotonic()
        proc.terminate()
        try:
            proc.wait(30)
            print(f"  (stopped {time.monotonic() - t_stop:.1f} s after SIGTERM; log {log})")
        except subprocess.TimeoutExpired:
            proc.kill()
            print(f"  (did not stop within 30 s of SIGTERM: killed; log {log})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab-dir", required=True, help="a running lab (started here if not running)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--scrape", type=float, default=1.0, help="seconds between scrapes (default 1)")
    ap.add_argument("--fleet", type=int, default=16, help="also a fleet of N aliases (0: skip)")
    ap.add_argument("--fleet-only", action="store_true", help="skip the lab's 2 hosts")
    args = ap.parse_args()
    lab = Lab(args.lab_dir)
    lab.start()
    lab.wait_ready(timeout=180)
    print(f"load average before: {psutil.getloadavg()}, {psutil.cpu_count()} CPUs")
    if not args.fleet_only:
        print(f"2 hosts (lab): {measure(lab.config_path, args.seconds, args.settle, args.scrape)}", flush=True)
    if args.fleet:
        fleet = write_fleet(lab, args.fleet, Path(args.lab_dir) / "fleet")
        print(f"{args.fleet} hosts (fleet aliases): {measure(fleet, args.seconds, args.settle, args.scrape)}")
    print(f"load average after: {psutil.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
