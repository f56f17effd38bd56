"""Model swap on a real router-mode llama-server (`--models-dir`, no `-m`) through the executor:
unload → load (progress from /models/sse) → check; a corrupt GGUF's failed load rolls back to the
previous model; a hostile file name travels as a JSON id, never through a shell."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gb10dash.actions.executor import Progress
from gb10dash.actions.router_swap import RouterCandidate
from gb10dash.actions.runner import run_plan
from gb10dash.actions.swap_prepare import find_candidate, prepare_swap, share_models
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import HostConfig
from gb10dash.lab import find_llama_server
from gb10dash.lab.models import ModelSpec, write_extras, write_model
from gb10dash.transport.local import LocalTransport

from . import labctl

HOSTILE = "it's $(touch PWNED); x `id` é"


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}
    except OSError:
        return 0, {}


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real llama-server router on 127.0.0.1 over a dir with two tiny GGUFs, one under a hostile
    name, a corrupt one (in broken-GGUF/) and a safetensors dir; alpha loaded to start with."""
    root = tmp_path_factory.mktemp("router")
    models = root / "models"
    for name in ("alpha.gguf", "beta.gguf"):
        write_model(ModelSpec(name, n_embd=128, n_layer=2, qtype="Q4_0"), models)
    shutil.copy(models / "alpha.gguf", models / f"{HOSTILE}.gguf")
    write_extras(models)
    port = _free_port()
    log = (root / "router.log").open("wb")
    proc = subprocess.Popen(
        [
            str(find_llama_server()),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--models-dir",
            str(models),
            "--no-models-autoload",
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        labctl.wait_for(lambda: _get(f"{url}/health")[0] == 200, 60, "the router's /health")
        assert _post(f"{url}/models/load", {"model": "alpha"})[0] == 200
        labctl.wait_for(lambda: status(url, "alpha") == "loaded", 60, "alpha loaded")
        yield url, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the router and the children it spawned
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def status(url: str, model: str) -> str | None:
    listing = _get(f"{url}/models")[1].get("data", [])
    return next((m["status"]["value"] for m in listing if m["id"] == model), None)


def answers(url: str, model: str) -> bool:
    code, body = _post(
        f"{url}/v1/chat/completions", {"model": model, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}]}
    )
    return code == 200 and body.get("model") == model and len(body.get("choices", [])) == 1


@pytest.fixture
async def site(router: tuple[str, Path]) -> AsyncIterator[tuple[HostConfig, LocalTransport, object]]:
    url, root = router
    host = HostConfig(
        name="router-lab", api_url=url, model_path="", ctx=4096, transport="local", model_share=str(root / "models")
    )
    transport, client = LocalTransport("router-lab"), LlamaClient(url)

    async def factory() -> LlamaClient:
        return client

    yield host, transport, factory
    await client.aclose()
    await transport.close()


async def swap(site, model: str, *, allow_disabled: bool = False):
    host, transport, factory = site
    candidates = await share_models(transport, host, client=factory)
    plan = await prepare_swap(
        transport, host, find_candidate(candidates, model), client=factory, timeout_s=60, allow_disabled=allow_disabled
    )
    progress: list[Progress] = []
    result = await run_plan(plan, transport, factory, unit=host.unit, on_progress=progress.append)
    return plan, result, progress


async def test_router_listing_comes_from_the_router_with_share_details(site) -> None:
    host, transport, factory = site
    by_id = {c.display_name: c for c in await share_models(transport, host, client=factory)}
    assert set(by_id) == {"alpha", "beta", "broken-GGUF", HOSTILE}  # no safetensors dir: the router lists none
    assert all(isinstance(c, RouterCandidate) for c in by_id.values())
    assert by_id["beta"].enabled and by_id["beta"].total_bytes > 0 and by_id["beta"].header is not None
    assert not by_id["broken-GGUF"].enabled  # the share's header check refuses it
    assert by_id["alpha"].status in ("loaded", "unloaded")


async def test_swap_loads_the_new_model_unloads_the_old_and_it_answers(site, router) -> None:
    url, _root = router
    await swap(site, "alpha")  # whatever ran before, alpha is the served model now
    plan, result, progress = await swap(site, "beta")
    assert result.ok, result.error
    assert [s.title for s in plan.steps] == ["unload alpha", "load beta", "check the router serves beta"]
    assert status(url, "beta") == "loaded" and status(url, "alpha") == "unloaded"
    assert answers(url, "beta")
    loading = [p.detail for p in progress if p.status == "progress" and p.title == "load beta"]
    assert any(d.startswith("loading") and " % " in d for d in loading), progress  # figures from /models/sse
    steps = [s.command for s in result.record.steps]
    assert 'POST /models/load {"model": "beta"}, progress from /models/sse (up to 60 s)' in steps


async def test_corrupt_model_fails_and_the_previous_model_is_loaded_again(site, router, private_state) -> None:
    url, _root = router
    assert (await swap(site, "beta"))[1].ok
    _plan, result, _progress = await swap(site, "broken-GGUF", allow_disabled=True)
    assert not result.ok and result.rolled_back
    assert "broken-GGUF failed to load: its llama-server exited with status 1" in (result.error or "")
    assert status(url, "beta") == "loaded" and status(url, "broken-GGUF") == "unloaded"
    assert answers(url, "beta")
    audit = [json.loads(line) for line in (private_state / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["result"] == "rolled back"
    assert [s["title"] for s in audit[-1]["steps"]][-1] == "undo: load beta again"


async def test_hostile_model_name_is_loaded_by_its_id_and_nothing_runs(site, router) -> None:
    url, root = router
    _plan, result, _progress = await swap(site, HOSTILE)
    assert result.ok, result.error
    assert status(url, HOSTILE) == "loaded" and answers(url, HOSTILE)
    assert not list(root.rglob("PWNED")) and not Path("PWNED").exists()
