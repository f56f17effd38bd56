"""`gb10dash bench` end to end against the lab's real llama-servers (a subprocess, as the operator runs it)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gb10dash.collectors.llama import parse_metrics
from gb10dash.lab import Lab

from . import labctl

QUICK_N, QUICK_M = 256, 32


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def counters(lab: Lab, host: str) -> dict[str, float]:
    with urllib.request.urlopen(lab.host(host).api_url + "/metrics", timeout=10) as response:
        values = parse_metrics(response.read().decode()).values
    return {k: values[k] for k in ("prompt_tokens_total", "tokens_predicted_total")}


def run_bench(config: Path, data_home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(config), XDG_DATA_HOME=str(data_home))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", "bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def history_docs(data_home: Path) -> list[dict[str, Any]]:
    path = data_home / "gb10dash" / "bench.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@dataclass
class QuickRun:
    proc: subprocess.CompletedProcess[str]
    docs: dict[str, dict[str, Any]]
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]


@pytest.fixture(scope="module")
def quick_run(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuickRun]:
    """`gb10dash bench pegasus stella --quick --repeat 2`, once, with /metrics read around it."""
    data_home = tmp_path_factory.mktemp("xdg-data")
    hosts = ("pegasus", "stella")
    before = {h: counters(lab, h) for h in hosts}
    proc = run_bench(lab.config_path, data_home, "pegasus", "stella", "--quick", "--repeat", "2")
    after = {h: counters(lab, h) for h in hosts}
    yield QuickRun(proc, {d["host"]: d for d in history_docs(data_home)}, before, after)


def test_exit_code_and_table(lab: Lab, quick_run: QuickRun) -> None:
    proc = quick_run.proc
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    # the lab's speed depends on the machine's load: the exit code must agree with the flags shown
    flagged = "REGRESSION" in proc.stdout
    assert proc.returncode == (1 if flagged else 0), proc.stdout
    for host in ("pegasus", "stella"):
        doc = quick_run.docs[host]
        build = get_json(lab.host(host).api_url + "/props")["build_info"]
        assert f"{host} · {lab.host(host).model_path.name} · build {build}" in proc.stdout
        assert f"{host}: rep 1/2" in proc.stderr and f"{host}: rep 2/2" in proc.stderr
        assert f"{doc['gen_tps']['mean']:,.1f} ± {doc['gen_tps']['stdev']:,.1f}" in proc.stdout
        assert f"{doc['prompt_tps']['mean']:,.1f} ± {doc['prompt_tps']['stdev']:,.1f}" in proc.stdout
        assert f"{doc['ttft_s']['mean']:.3f} ± {doc['ttft_s']['stdev']:.3f} s" in proc.stdout
        assert f"{doc['baseline']['gen_tps']:,.1f}" in proc.stdout and f"{doc['ratio']['gen']:.2f}×" in proc.stdout
    assert "gen tok/s" in proc.stdout and "prompt tok/s" in proc.stdout and "TTFT" in proc.stdout
    assert proc.stdout.count("2/2 repetitions (quick)") == 2


def test_history_lines_name_the_model_and_build(lab: Lab, quick_run: QuickRun) -> None:
    assert set(quick_run.docs) == {"pegasus", "stella"}
    for host, doc in quick_run.docs.items():
        api = lab.host(host).api_url
        assert doc["schema"] == "gb10dash.bench/1" and doc["partial"] is False
        assert doc["model_id"] == get_json(api + "/v1/models")["data"][0]["id"]
        assert doc["model"] == lab.host(host).model_path.name
        assert doc["build"] == get_json(api + "/props")["build_info"]
        assert doc["workload"]["prompt_tokens"] == QUICK_N and doc["workload"]["gen_tokens"] == QUICK_M
        assert doc["workload"]["repeat"] == 2 and doc["workload"]["quick"] is True
        assert doc["baseline"] == {
            "gen_tps": labctl.config(lab).host(host).baseline_gen_tps,
            "prompt_tps": labctl.config(lab).host(host).baseline_prompt_tps,
        }
        assert doc["gen_tps"]["n"] == 2 and doc["gen_tps"]["mean"] > 0 and doc["prompt_tps"]["mean"] > 0
        assert 0 < doc["ttft_s"]["mean"] < 60
        assert doc["regression"]["any"] == (doc["ratio"]["gen"] < 0.9 or doc["ratio"]["prompt"] < 0.9)


def test_exactly_m_tokens_generated_and_the_whole_prompt_processed(quick_run: QuickRun) -> None:
    for doc in quick_run.docs.values():
        assert doc["warnings"] == []
        assert abs(doc["workload"]["prompt_tokens_counted"] - QUICK_N) <= 4
        for sample in doc["samples"]:
            assert sample["predicted_n"] == QUICK_M  # ignore_eos honoured
            assert sample["ignore_eos"] is True and sample["stop_type"] == "limit"
            assert abs(sample["prompt_n"] - QUICK_N) <= 4  # cache_prompt false: all of it, every time
            assert sample["prompt_n"] == doc["workload"]["prompt_tokens_counted"] and sample["cache_n"] == 0
            assert sample["ttft_s"] is not None and sample["ttft_s"] < sample["total_s"]


def test_figures_match_the_servers_metrics_counters(quick_run: QuickRun) -> None:
    """3 requests per host (warm-up + 2): /metrics counted exactly the tokens the bench reports."""
    for host, doc in quick_run.docs.items():
        requests = [doc["warmup"], *doc["samples"]]
        assert len(requests) == 3
        before, after = quick_run.before[host], quick_run.after[host]
        assert after["prompt_tokens_total"] - before["prompt_tokens_total"] == sum(r["prompt_n"] for r in requests)
        assert (
            after["tokens_predicted_total"] - before["tokens_predicted_total"]
            == sum(r["predicted_n"] for r in requests)
            == 8 + 2 * QUICK_M
        )


def _config_variant(lab: Lab, dest: Path, changes: dict[str, dict[str, Any]], extra: list[dict[str, Any]]) -> Path:
    """The lab's hosts.toml with some host keys changed and extra hosts added."""
    data = tomllib.loads(lab.config_path.read_text())

    def value(v: Any) -> str:
        return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

    lines = ["[ssh]", *(f"{k} = {value(v)}" for k, v in data["ssh"].items())]
    for host in [*data["host"], *extra]:
        host = {**host, **changes.get(host["name"], {})}
        lines += ["", "[[host]]", *(f"{k} = {value(v)}" for k, v in host.items())]
    dest.write_text("\n".join(lines) + "\n")
    return dest


def test_regression_flag_ssh_forward_and_a_host_that_is_down(lab: Lab, tmp_path: Path) -> None:
    with socket.socket() as closed:  # bound, never listening: connection refused
        closed.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        vega = {
            "name": "vega",
            "transport": "local",
            "api_url": down_url,
            "model_path": "/mnt/models/x.gguf",
            "ctx": 4096,
            "baseline_gen_tps": 50.0,
        }
        config = _config_variant(
            lab,
            tmp_path / "hosts.toml",
            {
                "pegasus": {"baseline_gen_tps": 1e9, "api_via_ssh": True},  # nothing is that fast
                "stella": {"baseline_gen_tps": 0.001, "baseline_prompt_tps": 0.001},  # everything is
            },
            [vega],
        )
        data_home = tmp_path / "data"
        proc = run_bench(config, data_home, "pegasus", "stella", "vega", "--quick", "--repeat", "1", "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "gb10dash.bench-run/1" and doc["ok"] is False and doc["interrupted"] is False
    by_host = {r["host"]: r for r in doc["results"]}
    pegasus, stella = by_host["pegasus"], by_host["stella"]
    assert pegasus["regression"]["gen"] is True and pegasus["regression"]["any"] is True
    assert pegasus["base_url"] != lab.host("pegasus").api_url  # through the SSH port-forward
    assert pegasus["samples"][0]["predicted_n"] == QUICK_M
    assert stella["regression"]["any"] is False and stella["ratio"]["gen"] > 1
    assert doc["errors"] == [
        {"host": "vega", "error": f"llama-server is down: {down_url}: connection refused or host unreachable"}
    ]
    assert "vega" not in by_host
    assert f"gb10dash bench: vega: llama-server is down: {down_url}" in proc.stderr
    assert [d["host"] for d in history_docs(data_home)] == ["pegasus", "stella"]  # errors write nothing

    only_down = run_bench(config, data_home, "vega", "--quick")
    assert only_down.returncode == 1
    assert f"vega: ERROR: llama-server is down: {down_url}" in only_down.stdout
    fast = run_bench(config, data_home, "stella", "--quick", "--repeat", "1")
    assert fast.returncode == 0 and "result: ok" in fast.stdout, fast.stdout + fast.stderr


def test_config_and_usage_errors_exit_2(lab: Lab, tmp_path: Path) -> None:
    unknown = run_bench(lab.config_path, tmp_path, "nosuchhost", "--quick")
    assert unknown.returncode == 2 and "no host named 'nosuchhost'" in unknown.stderr
    too_many = run_bench(lab.config_path, tmp_path, "stella", "--repeat", "51")
    assert too_many.returncode == 2 and "repetitions must be between 1 and 50" in too_many.stderr
    too_big = run_bench(lab.config_path, tmp_path, "stella", "--prompt-tokens", "4000", "--gen-tokens", "200")
    assert too_big.returncode == 1 and "exceed the server's context per slot (4096)" in too_big.stderr
    assert history_docs(tmp_path) == []


def test_ctrl_c_cancels_the_request_and_writes_nothing(lab: Lab, tmp_path: Path) -> None:
    api = lab.host("stella").api_url
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path), XDG_DATA_HOME=str(tmp_path))
    before = counters(lab, "stella")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gb10dash", "bench", "stella", "--quick", "--repeat", "3", "--gen-tokens", "3500"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=labctl.default_sigint,
    )
    try:
        deadline = time.monotonic() + 180
        progress = []
        while time.monotonic() < deadline:  # one repetition done, the second one running
            line = proc.stderr.readline()
            progress.append(line)
            if "rep 1/3" in line or not line:
                break
        assert "rep 1/3" in progress[-1], "".join(progress)
        labctl.wait_for(
            lambda: any(s["is_processing"] for s in get_json(api + "/slots")),
            timeout=30,
            what="the second request to start",
        )
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        labctl.wait_for(
            lambda: not any(s["is_processing"] for s in get_json(api + "/slots")),
            timeout=15,
            what="the slot to go idle",
        )
        idle_after = time.monotonic() - sent
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    print(f"slot idle {idle_after:.3f} s after SIGINT")
    # 3,500 tokens take ~10 s or more here: idle within 3 s means the request was cancelled, not finished
    # (usually ~0.1 s; the bound leaves room for a loaded 2-core CI machine)
    assert idle_after < 3.0
    assert proc.returncode == 130, out + err
    assert "gb10dash bench: interrupted" in err and "Traceback" not in err
    assert "stella · " in out and "1/3 repetitions" in out and "INCOMPLETE: 1 of 3 repetitions measured" in out
    assert history_docs(tmp_path) == []  # nothing partial in the history
    generated = counters(lab, "stella")["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert generated < 8 + 2 * 3500  # the second request was cut short
