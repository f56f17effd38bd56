"""`gb10dash bench HOST... [--quick] [--prompt-tokens N] [--gen-tokens M] [--repeat K] [--json]`.

Hosts are benchmarked one after the other (never two at once: they would share nothing, but
the output would interleave). Progress goes to stderr, the tables (or the JSON document) to
stdout. Ctrl-C cancels the request in flight, prints what was measured and writes nothing
partial to the history. Exit codes: 0 ok, 1 a regression or an error, 2 bad config or usage,
130 interrupted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import Any

from gb10dash.bench import history, report
from gb10dash.bench.runner import BenchError, BenchResult, BenchRun, Progress, ProgressCallback
from gb10dash.bench.workload import Workload, make_workload
from gb10dash.config import Config
from gb10dash.core.monitor import HostMonitor
from gb10dash.transport import TransportError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
JSON_SCHEMA = "gb10dash.bench-run/1"


@dataclass
class Outcome:
    host: str
    result: BenchResult | None = None
    error: str | None = None
    interrupted: bool = False


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def bench_host(
    config: Config,
    name: str,
    workload: Workload,
    *,
    timeout_s: float = 300.0,
    on_progress: ProgressCallback | None = None,
) -> Outcome:
    """Benchmark one host; never raises for the host's problems (they go into Outcome.error)."""
    host = config.host(name)
    monitor = HostMonitor(host, config.ssh)
    run: BenchRun | None = None
    try:
        if host.api_via_ssh:
            await monitor.transport.connect()
        run = BenchRun(host, await monitor.api_client(), workload, request_timeout_s=timeout_s, on_progress=on_progress)
        return Outcome(name, await run.run())
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # handled here: Ctrl-C ends the bench, not the program
        return Outcome(name, run.result if run else None, interrupted=True)
    except (BenchError, TransportError) as exc:
        return Outcome(name, run.result if run else None, error=str(exc))
    finally:
        await monitor.close()


async def bench_command(
    config: Config,
    hosts: list[str],
    *,
    quick: bool = False,
    prompt_tokens: int | None = None,
    gen_tokens: int | None = None,
    repeat: int | None = None,
    as_json: bool = False,
    timeout_s: float = 300.0,
) -> int:
    try:
        workload = make_workload(quick=quick, prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, repeat=repeat)
    except ValueError as exc:
        _stderr(f"gb10dash bench: {exc}")
        return EXIT_USAGE
    for name in hosts:
        config.host(name)  # ConfigError (exit 2) before anything runs
    outcomes: list[Outcome] = []
    for name in hosts:
        _stderr(f"{name}: benchmark — {workload.describe()}")
        outcome = await bench_host(config, name, workload, timeout_s=timeout_s, on_progress=progress_printer)
        outcomes.append(outcome)
        _finish(outcome, as_json)
        if outcome.interrupted:
            _stderr("gb10dash bench: interrupted")
            break
    if as_json:
        print(json.dumps(json_document(outcomes), indent=2))
    if any(o.interrupted for o in outcomes):
        return EXIT_INTERRUPTED
    failed = any(o.error or o.result is None or o.result.regression for o in outcomes)
    return EXIT_FAILED if failed else EXIT_OK


def _finish(outcome: Outcome, as_json: bool) -> None:
    """Write a complete result to the history, print the host's table (text mode) and error."""
    result = outcome.result
    if result is not None and not outcome.error and not outcome.interrupted and not result.partial:
        try:
            history.append(result)
        except OSError as exc:
            outcome.error = f"cannot write the bench history {history.history_path()}: {exc.strerror}"
    if outcome.error:
        _stderr(f"gb10dash bench: {outcome.host}: {outcome.error}")
    if not as_json:
        if result is not None:
            print("\n".join(report.table(result)), flush=True)
        elif outcome.error:
            print(f"{outcome.host}: ERROR: {outcome.error}", flush=True)
        print(flush=True)


def json_document(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "schema": JSON_SCHEMA,
        "ok": all(o.result and not o.error and not o.interrupted and not o.result.regression for o in outcomes),
        "interrupted": any(o.interrupted for o in outcomes),
        "history": str(history.history_path()),
        "results": [history.record(o.result) for o in outcomes if o.result is not None],
        "errors": [{"host": o.host, "error": o.error} for o in outcomes if o.error],
    }


def progress_printer(progress: Progress) -> None:
    _stderr(report.progress_line(progress))
