"""Soak: the dashboard (headless pilot) against the lab at a 0.1 s refresh for a long time (default 30 min)
with a chat-request loop and one service restart a minute (hosts in turn). Prints RSS, asyncio tasks,
open fds and CPU at the start, every --report-every seconds and at the end. Goal: no growth beyond
5 MB, no leaked tasks or fds.

    .venv/bin/python bench/soak.py [--minutes 30] [--refresh 0.1] [--lab-dir .lab/bench-soak]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import time

import httpx
from pilot import HOSTS, REPO, Figures, make_app, start_lab, wait_healthy

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
            await asyncio.wait_for(stop.wait(), 60)
            return
        except TimeoutError:
            pass
        done = await asyncio.to_thread(lab._systemctl, host, "restart", False)
        counts["restarts" if done.returncode == 0 else "restart failed"] += 1


async def soak(args: argparse.Namespace) -> None:
    lab, started = start_lab(args.lab_dir)
    counts = {"ok": 0, "restarts": 0, "restart failed": 0}
    try:
        app = make_app(lab, args.refresh)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_healthy(app)
            await asyncio.sleep(args.settle)
            gc.collect()
            first = Figures.now()
            print(first.line("start"), flush=True)
            stop = asyncio.Event()
            loops = [asyncio.create_task(request_loop(lab, stop, counts)),
                     asyncio.create_task(restart_loop(lab, stop, counts))]
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
    finally:
        if started:
            lab.stop()
    span = last.at - first.at
    print(last.line("end"))
    print(f"over {span / 60:.1f} min at {args.refresh:g} s refresh: RSS {last.rss_kib - first.rss_kib:+d} KiB "
          f"(max {max(s.rss_kib for s in samples) / 1024:.1f} MiB), tasks {last.tasks - first.tasks:+d}, "
          f"fds {last.fds - first.fds:+d}, CPU {100 * (last.cpu_s - first.cpu_s) / span:.1f} % of one core "
          f"(requests and restarts driven from this process included); {counts}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--refresh", type=float, default=0.1)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--report-every", type=float, default=60.0)
    parser.add_argument("--lab-dir", default=str(REPO / ".lab" / "bench-soak"))
    asyncio.run(soak(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
