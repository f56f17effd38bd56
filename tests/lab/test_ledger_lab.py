"""The token ledger on a real host, across a server restart and a dashboard restart: what it records for
stella equals the tokens the server itself reports for each request (`timings.prompt_n` and
`predicted_n` of /completion), including requests served while no dashboard ran; `gb10dash usage`
prints the same totals, and the exporter exports the server's own counters."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import httpx

from gb10dash.config import load_config
from gb10dash.core.fleet import Fleet
from gb10dash.exporter.metrics import families
from gb10dash.lab import Lab
from gb10dash.ledger.accounting import Usage
from gb10dash.ledger.recorder import LedgerRecorder
from gb10dash.ledger.store import LedgerStore

from . import labctl

HOST = "stella"


def ask(url: str, n: int, tag: str) -> Usage:
    """n small requests; the tokens the server reports having processed and generated for them."""
    prompt = generated = 0
    for i in range(n):
        body = {"prompt": f"{tag} {i}: one two three four", "n_predict": 12, "temperature": 0, "cache_prompt": False}
        timings = httpx.post(f"{url}/completion", json=body, timeout=60).json()["timings"]
        prompt += timings["prompt_n"]
        generated += timings["predicted_n"]
    return Usage(prompt, generated)


def recorded(store: LedgerStore) -> Usage:
    hours = [h for h in store.hours(0) if h.host == HOST]
    return Usage(sum(h.prompt_tokens for h in hours), sum(h.generated_tokens for h in hours))


def plus(a: Usage, b: Usage) -> Usage:
    return Usage(a.prompt_tokens + b.prompt_tokens, a.generated_tokens + b.generated_tokens)


@contextlib.asynccontextmanager
async def dashboard(lab: Lab, store: LedgerStore) -> AsyncIterator[Fleet]:
    """What a running front end does for the ledger: a fleet ticking with a recorder."""
    config = labctl.config(lab)
    fleet = Fleet(config, [config.host(HOST)], ledger=LedgerRecorder(store, every_s=0.5))

    async def ticking() -> None:
        while True:
            fleet.tick(time.time())
            await asyncio.sleep(0.25)

    async with fleet.running():
        ticker = asyncio.create_task(ticking())
        try:
            yield fleet
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            fleet.tick(time.time())  # the last states, as a front end's last tick


async def settles_at(store: LedgerStore, expected: Usage, what: str) -> None:
    try:
        await labctl.until(lambda: store.path.exists() and recorded(store) == expected, 30, f"the ledger: {what}")
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}: recorded {recorded(store)}, expected {expected}; {store.last_readings()}"
        ) from None


async def test_the_ledger_counts_across_a_server_and_a_dashboard_restart(lab: Lab) -> None:
    path = load_config(lab.config_path).ledger.path  # the lab's own ledger ([ledger] of its hosts.toml)
    assert path is not None and path.parent == lab.config_path.parent
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)  # what earlier tests' front ends recorded
    store = LedgerStore(path)
    url = labctl.config(lab).host(HOST).api_url
    served = Usage(0, 0)
    async with dashboard(lab, store) as fleet:
        await labctl.until(lambda: store.path.exists() and store.last_readings(), 60, "the baseline reading")
        served = plus(served, await asyncio.to_thread(ask, url, 3, "first"))
        await settles_at(store, served, "3 requests")

        assert labctl.shim(lab, HOST, "systemctl", "restart", "llama-server").returncode == 0
        await asyncio.to_thread(lab.wait_ready, 60)
        served = plus(served, await asyncio.to_thread(ask, url, 2, "after the restart"))
        await settles_at(store, served, "2 more after a server restart")
        assert len({r.server for r in store.last_readings()}) == 1
        exported = {m.name: m for m in families(list(fleet.states.values()), [], time.time())}

    # the server's own counters, as the exporter exports them (since that server started)
    counter = exported["gb10dash_server_generated_tokens"].samples[0]
    assert counter.labels["host"] == HOST and counter.name == "gb10dash_server_generated_tokens_total"

    # no dashboard runs while these are served; the next one counts them from the last reading
    while_away = await asyncio.to_thread(ask, url, 2, "while no dashboard ran")
    served = plus(served, while_away)
    assert recorded(store) != served
    async with dashboard(lab, store):
        await settles_at(store, served, "2 served while no dashboard ran")

    done = subprocess.run(
        [sys.executable, "-m", "gb10dash", "usage", "--json", "--by", "host", "--since", "1h"],
        env=dict(os.environ, GB10DASH_CONFIG=str(lab.config_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    (row,) = [r for r in json.loads(done.stdout)["rows"] if r["host"] == HOST]
    assert (row["prompt_tokens"], row["generated_tokens"]) == (served.prompt_tokens, served.generated_tokens)
    print(f"ledger for {HOST}: {served} over 7 requests, a server restart and a dashboard restart")
