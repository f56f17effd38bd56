"""llama-server with --api-key (a real one on 127.0.0.1, the lab's tiny model): the key comes from the
environment or a 0600 file named in hosts.toml, is sent as Bearer by the monitor's client and by the
chat and bench clients made from it, and appears in no log, state, repr or `status --json`."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gb10dash.bench.runner import BenchRun
from gb10dash.bench.workload import make_workload
from gb10dash.chat.session import ChatHistory, stream_turn
from gb10dash.collectors.llama import HealthState
from gb10dash.config import ConfigError, read_api_key
from gb10dash.lab import Lab, find_llama_server
from gb10dash.lab.layout import HOST_SPECS
from gb10dash.lab.sshd import free_port

from .faultctl import monitor_for

KEY = "sk-gb10-" + os.urandom(12).hex()
ENV = "GB10DASH_TEST_LLAMA_KEY"


def get(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.fixture(scope="module")
def keyed_url(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("keyed") / "llama-server.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen(
            [
                str(find_llama_server()),
                "-m",
                str(lab.layout.share_src / HOST_SPECS["stella"].model),
                "-c",
                "1024",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--metrics",
                "--slots",
            ],
            env=dict(os.environ, LLAMA_API_KEY=KEY),
            stdout=sink,
            stderr=sink,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while get(url + "/health") != 200:
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        assert get(url + "/slots") == 401 and get(url + "/slots", KEY) == 200  # the server does check it
        yield url
    finally:
        server.terminate()
        server.wait(10)


async def test_key_from_the_environment_reaches_every_endpoint_and_no_log(
    lab: Lab, keyed_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV, KEY)
    caplog.set_level(logging.DEBUG)
    monitor = monitor_for(lab, "stella", api_url=keyed_url, api_key_env=ENV)
    state = await monitor.snapshot()
    assert state.health.state is HealthState.OK and state.slots and state.metrics is not None, state.problems()
    assert not state.sources["api"].failing
    client = await monitor.api_client()
    try:
        turn = None
        async for turn in stream_turn(monitor.api_client, ChatHistory("stella"), "Say hi"):
            pass
        # the streamed answer came through with the key: the server's usage counts what it generated (the
        # lab's tiny random model may sample its end-of-text first: a finished turn with no text deltas)
        assert turn is not None and turn.done and turn.error is None and turn.finish_reason, turn
        assert turn.usage is not None and (turn.usage.completion_tokens or 0) >= 1, turn
        bench = await BenchRun(
            monitor.host, client, make_workload(quick=True, prompt_tokens=32, gen_tokens=8, repeat=1), warmup=False
        ).run()
        assert bench.samples and not bench.partial, bench
        printed = " ".join([repr(state), repr(client), repr(monitor.host), caplog.text, repr(bench)])
    finally:
        await monitor.close()
    assert KEY not in printed and KEY[8:] not in printed


async def test_without_the_key_the_api_source_says_so(
    lab: Lab, keyed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    unset = await monitor_for(lab, "stella", api_url=keyed_url, api_key_env=ENV).snapshot()
    assert f"${ENV} is not set" in unset.sources["health"].last_error
    wrong = monitor_for(lab, "stella", api_url=keyed_url)  # no key configured at all
    state = await wrong.snapshot()
    assert state.health.state is HealthState.OK  # /health is public
    assert "401" in state.sources["api"].last_error or "Invalid API Key" in state.sources["api"].last_error


async def test_key_from_a_private_file(lab: Lab, keyed_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "llama.key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o644)
    monitor = monitor_for(lab, "stella", api_url=keyed_url, api_key_file=str(key_file))
    with pytest.raises(ConfigError, match="readable by others .*chmod 600") as refused:
        read_api_key(monitor.host)
    assert KEY not in str(refused.value)
    state = await monitor.snapshot()
    assert "readable by others" in state.sources["health"].last_error
    key_file.chmod(0o600)
    monitor = monitor_for(lab, "stella", api_url=keyed_url, api_key_file=str(key_file))
    state = await monitor.snapshot()
    assert state.slots and not state.sources["api"].failing


def test_status_json_never_shows_the_key(lab: Lab, keyed_url: str, tmp_path: Path) -> None:
    text = lab.config_path.read_text()
    stella = text.index('name = "stella"')
    head, tail = text[:stella], text[stella:]
    tail = re.sub(r'api_url = "[^"]*"', f'api_url = "{keyed_url}"\napi_key_env = "{ENV}"', tail, count=1)
    config = tmp_path / "hosts.toml"
    config.write_text(head + tail)
    done = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(config), "status", "--json"],
        env=dict(os.environ, **{ENV: KEY}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert '"stella"' in done.stdout, done.stderr
    assert KEY not in done.stdout + done.stderr and KEY[8:] not in done.stdout + done.stderr
