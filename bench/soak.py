"""Soak: the dashboard (headless pilot) against the lab at a 0.1 s refresh for a long time (default 30 min)
with a chat-request loop and one service restart a minute (hosts in turn). Prints RSS, asyncio tasks,
open fds and CPU at the start, every --report-every seconds and at the end. Goal: no growth beyond
5 MB, no leaked tasks or fds.

The dashboard keeps bounded stores that fill under traffic: each host's journal lines (2,000) and the
log pane's (2,000) (the 10-minute rate history is a few KiB and not waited for). Growth while they fill
is the bound, not a leak, so the soak runs its loops first (warm-up) until those stores are full, and
takes the start figure then; the figure before the warm-up ("cold") and the fill are printed too. The
lab is started in a child process (generating its models would otherwise sit in this process's heap),
and tasks that are new at the end are listed by their coroutine.

    .venv/bin/python bench/soak.py [--minutes 30] [--refresh 0.1] [--lab-dir .lab/bench-soak]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import itertools
import subprocess
import sys
import time

import httpx
from pilot import HOSTS, REPO, Figures, make_app, wait_healthy

from gb10dash.lab import Lab
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.widgets.log_pane import LogPane

REQUEST_TIMEOUT_S = 30.0


async def request_loop(lab, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """One short chat a second, hosts in turn; each bounded in time and tokens."""
    body = {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 16, "cache_prompt": False}
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, trust_env=False) as http:
        for host in itertools.cycle(HOSTS):
            if stop.is_set():
                return
            try:
                response = await http.post(f"{lab.host(host).api_url}/v1/chat/completions", json=body)
                outcome = "ok" if response.status_code == 200 else f"http {response.status_code}"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            counts[outcome] = counts.get(outcome, 0) + 1  # a 503 during a restart is counted, not fatal
            await asyncio.sleep(1.0)


async def restart_loop(lab, stop: asyncio.Event, counts: dict[str, int]) -> None:
    for host in itertools.cycle(HOSTS):
        try:
            async with asyncio.timeout(60):
                await stop.wait()
            return
        except TimeoutError:
            pass
        done = await asyncio.to_thread(lab._systemctl, host, "restart", False)
        counts["restarts" if done.returncode == 0 else "restart failed"] += 1


def start_lab_elsewhere(lab_dir: str) -> tuple[Lab, bool]:
    """Start (and wait for) the lab in a child process; its daemons outlive it and `Lab.stop` stops them."""
    lab = Lab(lab_dir)
    if lab.is_running():
        return lab, False
    code = f"from gb10dash.lab import Lab; lab = Lab({lab_dir!r}); lab.start(); lab.wait_ready(120)"
    subprocess.run([sys.executable, "-c", code], check=True)
    return lab, True


def store_fill(app: Gb10DashApp) -> dict[str, tuple[int, int]]:
    """(kept, cap) of each bounded store that fills under traffic."""
    fill = {f"log {name}": (len(monitor.log), monitor.log.maxlen or 0) for name, monitor in app.monitors.items()}
    pane = app.query_one(LogPane)
    fill["log pane"] = (len(pane.kept_entries), pane.max_lines)
    return fill


def tasks_by_coroutine() -> collections.Counter[str]:
    return collections.Counter(
        getattr(task.get_coro(), "__qualname__", repr(task.get_coro())) for task in asyncio.all_tasks()
    )


async def soak(args: argparse.Namespace) -> None:
    lab, started = start_lab_elsewhere(args.lab_dir)
    counts = {"ok": 0, "restarts": 0, "restart failed": 0}
    try:
        app = make_app(lab, args.refresh)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_healthy(app)
            await asyncio.sleep(args.settle)
            gc.collect()
            cold = Figures.now()
            cold_tasks = tasks_by_coroutine()
            print(cold.line("cold"), flush=True)
            stop = asyncio.Event()
            loops = [
                asyncio.create_task(request_loop(lab, stop, counts)),
                asyncio.create_task(restart_loop(lab, stop, counts)),
            ]
            warm_until = time.monotonic() + args.warmup_max * 60
            while not all(kept >= cap for kept, cap in store_fill(app).values()) and time.monotonic() < warm_until:
                await asyncio.sleep(5)
            fill = store_fill(app)
            print(
                f"warm-up: {(time.monotonic() - cold.at) / 60:.1f} min, stores (kept/cap) "
                + ", ".join(f"{name} {kept}/{cap}" for name, (kept, cap) in fill.items()),
                flush=True,
            )
            await asyncio.sleep(args.settle)
            gc.collect()
            first = Figures.now()
            first_tasks = tasks_by_coroutine()
            print(first.line("start"), flush=True)
            end = time.monotonic() + args.minutes * 60
            samples = [first]
            while time.monotonic() < end:
                await asyncio.sleep(min(args.report_every, max(0.0, end - time.monotonic())))
                samples.append(Figures.now())
                print(samples[-1].line(f"{(samples[-1].at - first.at) / 60:.1f} min"), f"{counts}", flush=True)
            stop.set()
            await asyncio.gather(*loops)
            await wait_healthy(app, 120)  # the last restart is over
            await asyncio.sleep(args.settle)
            await pilot.pause()
            gc.collect()
            last = Figures.now()
            last_tasks = tasks_by_coroutine()
    finally:
        if started:
            lab.stop()
    span = last.at - first.at
    print(last.line("end"))
    print(
        f"over {span / 60:.1f} min at {args.refresh:g} s refresh: RSS {last.rss_kib - first.rss_kib:+d} KiB "
        f"(max {max(s.rss_kib for s in samples) / 1024:.1f} MiB), tasks {last.tasks - first.tasks:+d}, "
        f"fds {last.fds - first.fds:+d}, CPU {100 * (last.cpu_s - first.cpu_s) / span:.1f} % of one core "
        f"(requests and restarts driven from this process included); {counts}"
    )
    print(
        f"from cold (before the warm-up filled the stores): RSS {last.rss_kib - cold.rss_kib:+d} KiB, "
        f"tasks {last.tasks - cold.tasks:+d}, fds {last.fds - cold.fds:+d}"
    )
    print(task_change("start", first_tasks, last_tasks))
    print(task_change("cold", cold_tasks, last_tasks))


def task_change(since: str, before: collections.Counter[str], after: collections.Counter[str]) -> str:
    more, fewer = after - before, before - after
    return (
        f"tasks at the end vs {since}: "
        + (", ".join(f"+{n} {name}" for name, n in more.items()) if more else "none new")
        + "; "
        + (", ".join(f"-{n} {name}" for name, n in fewer.items()) if fewer else "none gone")
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Soak the dashboard against the lab: RSS, tasks, fds and CPU over a long run with traffic "
        "and restarts, measured from the moment its bounded stores are full (bench/SOAK.md)."
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the soak after the warm-up (default 30)")
    parser.add_argument("--refresh", type=float, default=0.1, help="the dashboard's refresh in s (default 0.1)")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds to wait before each figure is taken (default 10)"
    )
    parser.add_argument(
        "--warmup-max",
        type=float,
        default=15.0,
        help="minutes of traffic at most before the start figure, waiting for the stores to fill (default 15)",
    )
    parser.add_argument(
        "--report-every",
        type=float,
        default=60.0,
        help="seconds between the figures printed during the soak (default 60)",
    )
    parser.add_argument(
        "--lab-dir",
        default=str(REPO / ".lab" / "bench-soak"),
        help="the lab's directory (started if not running, stopped at the end if started here)",
    )
    asyncio.run(soak(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
