"""A wedged server (its /health says ok, every other request hangs) on a real lab host's config: `status`,
`check` (a snapshot, and a window watched through the Fleet) and the exporter send the wedge canary and
report it — a problem, an alert, a metric — not only the dashboard."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import time
from pathlib import Path

import httpx

from gb10dash.lab import Lab
from gb10dash.lab.faults import FaultServer

HOST = "pegasus"


async def gb10dash(config: Path, *argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gb10dash",
        *argv,
        env=dict(os.environ, GB10DASH_CONFIG=str(config)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


async def test_status_and_check_report_a_wedged_host(lab: Lab, tmp_path: Path) -> None:
    async with FaultServer("wedged") as wedged:
        text = lab.config_path.read_text()
        head, tail = text.split('api_url = "', 1)  # pegasus's (the first host)
        text = head + f'api_url = "{wedged.url}' + tail[tail.index('"') :]
        assert "[canary]\nenabled = false" in text
        # pegasus's baseline goes: the throughput rule would judge the tok/s its journal's timing lines gave
        # in earlier tests' requests (the real server still logs; only its API is the wedged one)
        text, dropped = re.subn(r"^baseline_gen_tps = .*\n", "", text, count=1, flags=re.MULTILINE)
        assert dropped == 1
        config = tmp_path / "hosts.toml"
        canary = "[canary]\nenabled = true\ntimeout_s = 1\ninterval_s = 10"
        config.write_text(text.replace("[canary]\nenabled = false", canary, 1))

        code, out = await gb10dash(config, "status", "--json", HOST)
        (host,) = json.loads(out[: out.rindex("}") + 1])["hosts"]
        assert code == 1 and "wedged: no answer to the canary within 1 s" in host["problems"], host["problems"]
        assert host["health"]["state"] == "ok"  # what /health alone would have said

        code, out = await gb10dash(config, "check", "--json", HOST)
        doc = json.loads(out[: out.rindex("}") + 1])
        assert code == 1 and [(a["host"], a["rule"]) for a in doc["active"]] == [(HOST, "wedged")], doc["active"]

        code, out = await gb10dash(config, "check", "--json", "--window", "5", HOST)
        doc = json.loads(out[: out.rindex("}") + 1])
        assert code == 1 and [(a["host"], a["rule"]) for a in doc["active"]] == [(HOST, "wedged")], doc["active"]

        lines = await exporter_lines(config, 'gb10dash_wedged{host="pegasus"}', 'rule="wedged"')
        assert 'gb10dash_wedged{host="pegasus"} 1.0' in lines, lines
        assert any(line.startswith("gb10dash_alert_active{") and 'rule="wedged"' in line for line in lines), lines
        assert 'gb10dash_health_ok{host="pegasus"} 1.0' in lines  # what /health alone says


async def exporter_lines(config: Path, *wanted: str, within_s: float = 60) -> list[str]:
    """The exporter's /metrics lines once each of `wanted` is in them (first canary: after interval_s)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gb10dash", "--config", str(config), "exporter", "--listen", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + within_s
        async with httpx.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                await asyncio.sleep(1)
                try:
                    lines = (await client.get(f"http://127.0.0.1:{port}/metrics")).text.splitlines()
                except httpx.TransportError:
                    continue  # not listening yet
                if all(any(w in line for line in lines) for w in wanted):
                    return lines
        raise AssertionError(f"the exporter did not show {wanted} within {within_s:g} s: {lines[-40:]}")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 15)
