"""Journal flood: 2,000 lines/s for 60 s into pegasus's journal while the dashboard (headless pilot)
watches the lab. Prints key-to-screen latency (n/N: next host, until the log pane shows it) before and
during the flood, lines taken in by the monitor vs written, kept-log size, RSS and CPU.

    .venv/bin/python bench/flood.py [--seconds 60] [--rate 2000] [--lab-dir .lab/bench-flood]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

from pilot import (
    REPO,
    Figures,
    describe,
    key_latency,
    make_app,
    start_lab,
    wait_healthy,
)

from gb10dash.lab.shims.journal_append import append_unit_lines

UNIT = "llama-server.service"


def flood(root, tag: str, rate: int, seconds: float, stop: threading.Event | None = None) -> int:
    """`rate` lines a second (in tenths) into the host's unit journal for `seconds` or until `stop` is set."""
    batch, pause, written = rate // 10, 0.1, 0
    next_at, end = time.monotonic(), time.monotonic() + seconds
    while time.monotonic() < end and not (stop is not None and stop.is_set()):
        append_unit_lines(UNIT, [f"{tag} {written + i}" for i in range(batch)], root)
        written += batch
        next_at += pause
        time.sleep(max(0.0, next_at - time.monotonic()))
    return written


async def measure(args: argparse.Namespace) -> None:
    lab, started = start_lab(args.lab_dir)
    try:
        app = make_app(lab, 1.0)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_healthy(app)
            monitor = app.monitors["pegasus"]
            quiet = [await key_latency(app, pilot, k) for k in "nN" * 10]
            seq0, before, tag = monitor.log_seq, Figures.now(), f"flood-{time.time_ns()}"
            writer = asyncio.create_task(
                asyncio.to_thread(flood, lab.layout.host("pegasus").root, tag, args.rate, args.seconds)
            )
            loaded: list[float] = []
            while not writer.done():
                for key in "nN":
                    loaded.append(await key_latency(app, pilot, key))
                await asyncio.sleep(0.5)
            written = await writer
            deadline = time.monotonic() + 60
            while monitor.log_seq - seq0 < written and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            after = Figures.now()
            took_in = monitor.log_seq - seq0
            kept = len(monitor.log)
    finally:
        if started:
            lab.stop()
    print(f"flood: {written} lines in {args.seconds:g} s ({written / args.seconds:.0f}/s) into pegasus's journal")
    print(
        f"monitor took in {took_in} entries (written {written}; other lines of the unit count too), "
        f"kept {kept} (bounded by Cadence.log_lines)"
    )
    print(f"key-to-screen latency, quiet:      {describe(quiet)}")
    print(f"key-to-screen latency, under flood: {describe(loaded)}")
    print(before.line("before"))
    print(after.line("after"))
    print(
        f"CPU during the flood: {after.cpu_s - before.cpu_s:.1f} s "
        f"({100 * (after.cpu_s - before.cpu_s) / (after.at - before.at):.0f} % of one core)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--lab-dir", default=str(REPO / ".lab" / "bench-flood"))
    asyncio.run(measure(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
