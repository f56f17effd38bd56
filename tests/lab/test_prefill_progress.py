"""Prefill progress on a real host: pegasus's unit runs its llama-server (the lab's largest model) with small
batches on one thread (`-b 64 -ub 64 -t 1 -np 1`, through a test drop-in), so that ~2,700 prompt tokens take
~10 s. The monitor, over SSH as llm-agent, follows /slots and the unit's journal (where the server prints
`prompt processing, n_tokens = …, progress = …` once a prompt has run 3 s): several intermediate fractions
are seen before the first generated token, and the prompt's size it settles on is the one the server
reports having evaluated (recorded here: 24 fractions from 44 % to 99 %, 2,659 of 2,659 tokens)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gb10dash.core.monitor import Cadence, HostMonitor
from gb10dash.core.slot_activity import SlotActivity
from gb10dash.lab import Lab

from . import labctl

HOST = "pegasus"
DROPIN = "aa-test-small-batches.conf"


@pytest.fixture
def small_batches(lab: Lab) -> Iterator[None]:
    with labctl.served_with(lab, HOST, DROPIN, lambda argv: [*argv, "-b", "64", "-ub", "64", "-t", "1", "-np", "1"]):
        yield


async def status_json(lab: Lab) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gb10dash",
        "status",
        "--json",
        HOST,
        env=dict(os.environ, GB10DASH_CONFIG=str(lab.config_path)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    document: dict[str, Any] = json.loads(out)
    assert document["schema"] == "gb10dash.status/3"
    return document


def long_prompt(words: int) -> str:
    return " ".join(f"w{i % 50}" for i in range(words))  # ~3.8 tokens a word with the lab's vocabulary


async def test_prefill_fractions_are_seen_before_the_first_token(lab: Lab, small_batches: None) -> None:
    config = labctl.config(lab)
    host = config.host(HOST)
    monitor = HostMonitor(host, config.ssh, cadence=dataclasses.replace(Cadence(), fast_s=0.25))
    task = asyncio.create_task(monitor.run())
    answer: dict[str, object] = {}

    def ask() -> None:
        body = {"prompt": long_prompt(700), "n_predict": 8, "temperature": 0, "cache_prompt": False}
        answer.update(httpx.post(f"{host.api_url}/completion", json=body, timeout=300).json())

    seen: list[SlotActivity] = []
    status: dict[str, Any] = {}
    try:
        await labctl.until(lambda: monitor.state.healthy and monitor.state.slots is not None, 60, "pegasus watched")
        await asyncio.sleep(1.0)  # the journal stream has caught up with the restart
        request = threading.Thread(target=ask)
        request.start()
        deadline = time.monotonic() + 240
        while request.is_alive() and time.monotonic() < deadline:
            seen += [a for a in monitor.state.slot_activity if a not in seen]
            if not status and any(a.total for a in seen):  # the log lines have begun: one `status --json`
                status = await status_json(lab)
            await asyncio.sleep(0.1)
        request.join(10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await monitor.close()
    assert "tokens_evaluated" in answer, answer
    evaluated = answer["tokens_evaluated"]
    assert isinstance(evaluated, int) and 2000 < evaluated < 4096, answer
    prefill = [a for a in seen if a.phase == "prefill"]
    first_token = next((i for i, a in enumerate(seen) if a.phase == "generating"), len(seen))
    fractions = sorted({round(a.fraction, 3) for a in seen[:first_token] if a.fraction is not None and a.fraction < 1})
    assert len(fractions) >= 3, [a.describe() for a in seen]
    done = [a.done for a in prefill]
    assert done == sorted(done) and done[0] < done[-1]  # tokens done only grow
    sized = [a for a in prefill if a.total is not None]
    assert abs(sized[-1].total - evaluated) / evaluated < 0.005, (sized[-1].total, evaluated)
    assert any(a.tokens_per_second and a.eta_s is not None for a in sized)
    (during,) = status["hosts"][0]["slot_activity"]  # status: one /slots reading and the journal's tail
    assert during["phase"] == "prefill" and during["done"] > 0 and during["tokens_per_second"] > 0, during
    assert abs(during["total"] - evaluated) / evaluated < 0.01 and 0 < during["fraction"] < 1, during
    print(f"prefill of {evaluated} tokens: fractions seen {fractions}; last {sized[-1].describe()}")
