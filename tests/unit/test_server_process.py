"""A watch-only host's llama-server, found among `ps -C llama-server -o pid=,etimes=,args=` lines by its port."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.actions.restart import plan_restart
from gb10dash.actions.watch_only import require_unit
from gb10dash.collectors.server_process import api_port, parse_ps, process_unit
from gb10dash.config import HostConfig

# recorded (tests/fixtures/proc/ps-llama-server-lab.txt): the real-hosts lab's stella, its unit's server
# and one started by hand as llm-agent on port 38001
PS = (Path(__file__).parent.parent / "fixtures" / "proc" / "ps-llama-server-lab.txt").read_text()


def test_the_server_is_the_one_on_the_api_port() -> None:
    server = parse_ps(PS, 38001)
    assert server is not None and server.pid == 918 and server.elapsed_s == 4
    assert server.argv[-4:] == ("--port", "38001", "--load-mode", "none")
    assert parse_ps(PS, 36777).pid == 69
    assert parse_ps(PS, 9999) is None and parse_ps("", 8080) is None
    assert parse_ps("  77  5 /usr/bin/llama-server -m x.gguf\n", 8080).pid == 77  # its default port
    assert parse_ps("garbage\n  12 x\n", 8080) is None
    oldest = parse_ps("  5 100 llama-server --port 1\n  6 9 llama-server --port 1\n", 1)
    assert oldest.pid == 5


def test_the_process_as_unit_state() -> None:
    running = process_unit(parse_ps(PS, 38001), now=1000.0)
    assert running.watch_only and running.is_running and running.main_pid == 918 and running.started_at == 996.0
    gone = process_unit(None, now=1000.0)
    assert gone.watch_only and not gone.is_running and gone.main_pid is None


def test_api_port() -> None:
    assert api_port("http://127.0.0.1:8000") == 8000
    assert api_port("https://h.example") == 443 and api_port("http://h") == 80


def test_the_actions_that_need_a_unit_are_refused_with_the_reason() -> None:
    host = HostConfig(name="watcher", api_url="http://127.0.0.1:8080", model_path="/m/x.gguf", ctx=4096, unit="")
    with pytest.raises(ValueError, match=r'^watcher is watch-only \(unit = "" in its config\): restart acts'):
        plan_restart(host)
    require_unit(HostConfig(name="u", api_url="http://h:1", model_path="/m", ctx=1), "restart")  # has a unit
