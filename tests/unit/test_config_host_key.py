"""`accept_new_host_key` in hosts.toml: per host, false unless said, ssh hosts only, errors with the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.config import ConfigError, parse_config

HOST = """[[host]]
name = "pegasus"
ssh_alias = "pegasus-llm"
api_url = "http://127.0.0.1:8000"
model_path = "/models/m.gguf"
ctx = 4096
"""


def test_off_unless_the_host_says_so() -> None:
    config = parse_config(HOST + "accept_new_host_key = true\n" + HOST.replace("pegasus", "stella"), Path("hosts.toml"))
    assert [h.accept_new_host_key for h in config.hosts] == [True, False]


def test_only_for_ssh_hosts_and_only_a_boolean() -> None:
    local = HOST.replace('ssh_alias = "pegasus-llm"', 'transport = "local"') + "accept_new_host_key = true\n"
    with pytest.raises(ConfigError, match=r"hosts.toml:7: .*'accept_new_host_key': only possible with transport"):
        parse_config(local, Path("hosts.toml"))
    with pytest.raises(ConfigError, match=r"hosts.toml:7: .*'accept_new_host_key': expected true or false"):
        parse_config(HOST + 'accept_new_host_key = "yes"\n', Path("hosts.toml"))
