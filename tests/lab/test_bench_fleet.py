"""The lab fleet (gb10dash/lab/fleet.py): N ssh aliases over the lab's real hosts, read by the product's config."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from gb10dash.config import load_config
from gb10dash.lab import Lab
from gb10dash.lab.fleet import write_fleet
from gb10dash.transport.ssh import SshTransport

from . import labctl


async def test_fleet_aliases_reach_the_real_hosts(lab: Lab, tmp_path: Path) -> None:
    config = load_config(write_fleet(lab, 5, tmp_path / "fleet"))
    real = {h.name: h for h in lab.hosts}
    assert [h.name for h in config.hosts] == ["fleet-01", "fleet-02", "fleet-03", "fleet-04", "fleet-05"]
    assert [h.api_url for h in config.hosts] == [real[n].api_url for n in ("pegasus", "stella") * 2 + ("pegasus",)]
    # OpenSSH and asyncssh both take the alias, with the host key checked against the lab's known_hosts
    ask, answer = labctl.identity(lab, "stella")
    done = await asyncio.to_thread(
        subprocess.run,
        ["ssh", "-F", str(config.ssh.config_file), "fleet-04-llm", *ask],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0 and done.stdout.strip() == answer, done.stderr
    transport = SshTransport("fleet-05", "fleet-05-llm", config.ssh)
    await transport.connect()
    try:
        ask, answer = labctl.identity(lab, "pegasus")
        assert (await transport.run(ask)).stdout.strip() == answer
    finally:
        await transport.close()
