"""A wedged server (its /health says ok, every other request hangs) on a real lab host's config: `status` and
`check` send the wedge canary once and report it — a problem, an alert — not only the dashboard."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

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
        config = tmp_path / "hosts.toml"
        config.write_text(text.replace("[canary]\nenabled = false", "[canary]\nenabled = true\ntimeout_s = 1", 1))

        code, out = await gb10dash(config, "status", "--json", HOST)
        (host,) = json.loads(out[: out.rindex("}") + 1])["hosts"]
        assert code == 1 and "wedged: no answer to the canary within 1 s" in host["problems"], host["problems"]
        assert host["health"]["state"] == "ok"  # what /health alone would have said

        code, out = await gb10dash(config, "check", "--json", HOST)
        doc = json.loads(out[: out.rindex("}") + 1])
        assert code == 1 and [(a["host"], a["rule"]) for a in doc["active"]] == [(HOST, "wedged")], doc["active"]
