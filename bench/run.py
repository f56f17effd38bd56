"""gb10dash performance benchmark against the lab (issue 8): prints one table of every row.

    .venv/bin/python bench/run.py            # full run (defaults as in the issue; ~12 min)
    .venv/bin/python bench/run.py --quick    # short windows and few trials, for development

Everything runs against a lab on 127.0.0.1 (started here unless one runs in --lab-dir).
Needs root for the lab-side counts (proc connector, process accounting) and tmux.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import idle, ui_rows
from bench.measure import load_average, machine, percentile
from gb10dash.config import load_config
from gb10dash.lab import Lab
from gb10dash.lab.fleet import write_fleet
from gb10dash.lab.shims.journal import Journal

QUICK = {
    "seconds": 15,
    "settle": 4,
    "trials": 5,
    "requests": 4,
    "scale_seconds": 15,
    "presses": 15,
    "busy_seconds": 15,
    "populate_trials": 1,
    "first_frame_trials": 1,
}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short windows, few trials (development)")
    p.add_argument("--seconds", type=float, default=120, help="idle window for each client (default 120)")
    p.add_argument("--settle", type=float, default=10, help="seconds before a window starts (default 10)")
    p.add_argument("--refresh", type=float, default=1.0, help="refresh / poll interval (default 1)")
    p.add_argument("--trials", type=int, default=20, help="freshness trials (default 20)")
    p.add_argument("--requests", type=int, default=10, help="requests for tok/s accuracy (default 10)")
    p.add_argument("--populate-trials", type=int, default=3)
    p.add_argument("--first-frame-trials", type=int, default=3)
    p.add_argument("--scale-hosts", type=int, default=16)
    p.add_argument("--scale-seconds", type=float, default=60, help="CPU window of the fleet (default 60)")
    p.add_argument("--busy-seconds", type=float, default=60, help="CPU window with both hosts generating (default 60)")
    p.add_argument("--flood-rate", type=int, default=2000, help="journal lines/s for the key-to-screen flood row")
    p.add_argument("--presses", type=int, default=40, help="key presses per key-to-screen run (default 40)")
    p.add_argument("--size", default="160x48", help="terminal size (default 160x48)")
    p.add_argument("--lab-dir", default=str(REPO / ".lab" / "bench"))
    p.add_argument("--no-install", action="store_true", help="do not pip install bench/requirements.txt")
    args = p.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            if p.get_default(key) == getattr(args, key):
                setattr(args, key, value)
    return args


def ensure_requirements() -> None:
    if (Path(sys.executable).parent / "llamastat").exists():
        return
    print("bench: installing bench/requirements.txt (llamastat) ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-r", str(REPO / "bench" / "requirements.txt")], check=False
    )


def commit() -> str:
    head = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return head or "unknown"


def ms(v: float) -> str:
    return f"{v * 1000:.0f} ms"


#: a lab host's journal is cut to this many entries before the run and after the flood row
JOURNAL_KEPT = 2000


def vacuum_journals(lab: Lab, say) -> None:
    """The lab's journals to their newest JOURNAL_KEPT entries (nothing follows them between rows): the
    lab's journalctl reads its whole journal file on every call, so a flood makes every later call slow."""
    for host in lab.hosts:
        dropped = Journal(lab.layout.host(host.name).root).vacuum(JOURNAL_KEPT)
        if dropped:
            say(f"{host.name}: journal vacuumed, {dropped:,} old entries dropped")


def main() -> int:
    args = parse_args()
    if not args.no_install:
        ensure_requirements()
    t_start = time.monotonic()
    # the dashboard as scripts/setup leaves it (and as pip installs a package): byte-compiled
    compileall.compile_dir(str(REPO / "gb10dash"), quiet=1)
    lab = Lab(args.lab_dir, progress=lambda m: print(f"lab: {m}", file=sys.stderr))
    started = lab.start()
    rows: list[tuple[str, str, str, str]] = []
    loads = [load_average()]
    say = lambda m: print(f"bench: {m}", file=sys.stderr, flush=True)
    try:
        lab.wait_ready(120)
        vacuum_journals(lab, say)  # a flood left by an earlier run slows every journalctl of this one
        work = Path(args.lab_dir) / "bench-work"
        config = load_config(lab.config_path)

        say(f"idle: dashboard + llamastat, {args.seconds:g} s")
        dash = idle.dashboard_and_llamastat(lab, work, args.seconds, args.settle, args.refresh, args.size)
        loads.append(load_average())
        say(f"idle: naive collector, {args.seconds:g} s")
        naive = idle.naive(lab, work, args.seconds, args.settle, args.refresh)
        loads.append(load_average())
        d, ls = dash.clients
        nv = naive.clients[0]
        rows.append(
            (
                "idle CPU, % of one core",
                f"{d.cpu_percent:.2f} % ({d.note})",
                f"naive {nv.cpu_percent:.1f} %; llamastat {ls.cpu_percent:.2f} % ({ls.note})",
                "≤ llamastat's",
            )
        )
        rows.append(
            (
                "idle RSS (max)",
                f"{d.rss_max_mib:.0f} MiB",
                f"naive {nv.rss_max_mib:.0f} MiB (python only); llamastat {ls.rss_max_mib:.0f} MiB",
                "≤ 64 MiB",
            )
        )
        for name in dash.remote:
            a, b = dash.remote[name], naive.remote[name]
            rows.append(
                (
                    f"remote {name}: new SSH connections/min",
                    f"{a.connections_per_min:.1f}",
                    f"naive {b.connections_per_min:.1f}",
                    "0",
                )
            )
            rows.append(
                (
                    f"remote {name}: processes spawned/s (commands/min)",
                    f"{a.spawns_per_s:.2f} ({60 * a.log.commands / a.seconds:.0f})",
                    f"naive {b.spawns_per_s:.2f} ({60 * b.log.commands / b.seconds:.0f})",
                    "≤ 0.2",
                )
            )
            rows.append(
                (
                    f"remote {name}: CPU of its sshd tree, % of one core",
                    f"{a.cpu_percent:.2f} %",
                    f"naive {b.cpu_percent:.2f} %",
                    "—",
                )
            )
            say(f"{name}: dashboard programs {a.programs}; naive {b.programs}")

        say(f"freshness: {args.trials} trials")
        host = lab.hosts[-1].name
        fresh = ui_rows.run_row(ui_rows.freshness(config, lab, host, args.trials, args.refresh))
        loads.append(load_average())
        rows.append(
            (
                f"freshness: stop → panel degraded, p95 of {len(fresh.degraded_s)}",
                f"{percentile(fresh.degraded_s, 95):.2f} s (median {statistics.median(fresh.degraded_s):.2f})",
                f"refresh {args.refresh:g} s",
                "≤ 1.5 s",
            )
        )
        rows.append(
            (
                "freshness: stop → service line shows it, p95",
                f"{percentile(fresh.unit_s, 95):.2f} s (median {statistics.median(fresh.unit_s):.2f})",
                "slow poll 5 s",
                "—",
            )
        )

        say("first frame / populated")
        frames = idle.first_frame(lab.config_path, args.first_frame_trials, args.size)
        pops = ui_rows.run_row(ui_rows.populate(config, args.populate_trials, args.refresh))
        rows.append(
            (
                "first frame (process start → text on the terminal), max",
                f"{max(frames):.2f} s over {len(frames)}",
                "—",
                "≤ 1 s",
            )
        )
        rows.append(
            (
                "all panels populated (App start → every source shown), max",
                f"{max(pops):.2f} s over {len(pops)}",
                "—",
                "≤ 3 s",
            )
        )

        say(f"tok/s accuracy: {args.requests} requests")
        acc = ui_rows.run_row(ui_rows.tokps_accuracy(config, host, args.requests, args.refresh))
        errs = acc.errors
        rows.append(
            (
                f"gen tok/s shown vs server timings ({acc.source}), {len(errs)} requests",
                f"mean abs error {100 * statistics.mean(errs):.2f} %, max {100 * max(errs):.2f} %",
                f"e.g. server {acc.pairs[-1][0]:.0f} / shown {acc.pairs[-1][1]:.0f}",
                "within 2 %",
            )
        )

        say("key-to-screen, 2 hosts")
        keys2 = ui_rows.run_row(ui_rows.key_to_screen(config, args.presses, args.refresh, args.settle))
        say(f"key-to-screen, 2 hosts, {args.flood_rate} journal lines/s into {lab.hosts[0].name}")
        flood = ui_rows.Flood(lab.layout.host(lab.hosts[0].name).root, args.flood_rate)
        keys_flood = ui_rows.run_row(
            ui_rows.key_to_screen(config, args.presses, args.refresh, args.settle, flood=flood)
        )
        loads.append(load_average())
        vacuum_journals(lab, say)  # the rows after it read a journal of the usual size
        rows.append(
            (
                f"key-to-screen p95 (`n`, 2 hosts) under a {args.flood_rate:,} lines/s journal flood",
                f"{ms(percentile(keys_flood, 95))} (median {ms(statistics.median(keys_flood))}; "
                f"{flood.written:,} lines written)",
                f"quiet {ms(percentile(keys2, 95))} (median {ms(statistics.median(keys2))})",
                "≤ 100 ms",
            )
        )
        say(f"busy: every host generating, {args.busy_seconds:g} s")
        hot = idle.busy(lab, args.busy_seconds, args.settle, args.refresh, args.size)
        loads.append(load_average())
        rows.append(
            (
                f"busy CPU, % of one core (every host generating, {args.refresh:g} s refresh)",
                f"{hot.cost.cpu_percent:.2f} % = {hot.cost.cpu_percent / d.cpu_percent:.1f}× idle, "
                f"RSS {hot.cost.rss_max_mib:.0f} MiB",
                "; ".join(
                    f"{name} {hot.requests[name]} requests, {hot.tokens_per_s[name]:.0f} tok/s" for name in hot.requests
                )
                + f"; idle {d.cpu_percent:.2f} %",
                "≤ 2× idle",
            )
        )
        say(f"scale: {args.scale_hosts} hosts")
        fleet_toml = write_fleet(lab, args.scale_hosts, Path(args.lab_dir) / "fleet")
        fleet = idle.fleet_cpu(fleet_toml, args.scale_seconds, args.settle, args.refresh, args.size)
        loads.append(load_average())
        keys16 = ui_rows.run_row(
            ui_rows.key_to_screen(load_config(fleet_toml), args.presses, args.refresh, args.settle)
        )
        rows.append(
            (
                f"scale: {args.scale_hosts} hosts, CPU % of one core ({args.scale_seconds:g} s)",
                f"{fleet.cpu_percent:.2f} %, RSS {fleet.rss_max_mib:.0f} MiB",
                f"2 hosts {d.cpu_percent:.2f} %",
                "≤ 5 %",
            )
        )
        rows.append(
            (
                f"key-to-screen p95 (`n`, pilot, {args.presses} presses)",
                f"{args.scale_hosts} hosts {ms(percentile(keys16, 95))} (median {ms(statistics.median(keys16))})",
                f"2 hosts {ms(percentile(keys2, 95))} (median {ms(statistics.median(keys2))})",
                "≤ 50 ms",
            )
        )
    finally:
        if started:
            lab.stop()
    print(f"\nmachine: {machine()}")
    print(f"load average at the start and after each part: {' | '.join(loads)}")
    print(f"run: {'--quick' if args.quick else 'full'}, {time.monotonic() - t_start:.0f} s, commit {commit()}\n")
    print("| measure | dashboard | compared with | target |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
