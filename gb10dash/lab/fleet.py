"""A fleet: N ssh aliases over the lab's few real hosts, for scale benchmarks.

`write_fleet(lab, n, root)` writes ROOT/ssh_config with aliases `fleet-01-llm` … (round-robin
over the running lab's sshds: the lab's known_hosts and client key serve them as they are)
and ROOT/hosts.toml with one [[host]] per alias, each pointing at its real host's
llama-server and files, so the product's own config loader reads it. Nothing is started.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from gb10dash.config import load_config
from gb10dash.lab import sshd
from gb10dash.lab.base import LabBase


def fleet_name(index: int) -> str:
    return f"fleet-{index + 1:02d}"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, str) else repr(value)  # a TOML basic string / number


def write_fleet(lab: LabBase, n: int, root: Path) -> Path:
    """Write the fleet's ssh_config and hosts.toml under `root`; returns the hosts.toml path."""
    if n < 1:
        raise ValueError("a fleet has at least one host")
    lab_config = load_config(lab.config_path)
    real = lab_config.hosts
    ports = {h.name: h.ssh_port for h in lab.hosts}
    root.mkdir(parents=True, exist_ok=True)
    ssh_config, hosts_toml = root / "ssh_config", root / "hosts.toml"
    blocks = [f"# gb10dash lab fleet of {n} aliases over {len(real)} real hosts — generated", ""]
    out = [
        "# gb10dash lab fleet — generated",
        "",
        "[ssh]",
        f"config_file = {_toml(str(ssh_config))}",
        "",
        "[canary]",
        f"enabled = {_toml(lab_config.canary.enabled)}  # as in the lab's own hosts.toml",
        "",
        "[ledger]",
        f"enabled = {_toml(lab_config.ledger.enabled)}",
        *([f"path = {_toml(str(lab_config.ledger.path))}"] if lab_config.ledger.path else []),
    ]
    for index in range(n):
        base, name = real[index % len(real)], fleet_name(index)
        alias = f"{name}-llm"
        blocks += [
            f"Host {alias}",
            "    HostName 127.0.0.1",
            f"    Port {ports[base.name]}",
            f"    User {lab.login_user}",
            f"    IdentityFile {sshd.quote(str(lab.layout.client_key))}",
            f"    UserKnownHostsFile {sshd.quote(str(lab.known_hosts_path))}",
            "    StrictHostKeyChecking yes",
            "    IdentitiesOnly yes",
            "    PasswordAuthentication no",
            "",
        ]
        keys = {k: v for k, v in asdict(base).items() if v is not None}
        keys.update(name=name, ssh_alias=alias)
        out += ["", "[[host]]", *(f"{k} = {_toml(v)}" for k, v in keys.items())]
    ssh_config.write_text("\n".join(blocks))
    hosts_toml.write_text("\n".join(out) + "\n")
    return hosts_toml
