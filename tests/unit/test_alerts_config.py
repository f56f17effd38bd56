"""The [alerts] section of hosts.toml: defaults, overrides, and errors that name FILE:LINE."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.alerts.settings import DEFAULT_RULES
from gb10dash.config import ConfigError, parse_config

HOST = """
[[host]]
name = "pegasus"
ssh_alias = "pegasus-llm"
api_url = "http://127.0.0.1:8000"
model_path = "/mnt/models/x/m.gguf"
ctx = 4096
"""
PATH = Path("/etc/gb10dash/hosts.toml")


def test_defaults_without_an_alerts_section() -> None:
    alerts = parse_config(HOST, PATH).alerts
    assert alerts.rules == DEFAULT_RULES and alerts.bell is False and alerts.notify == ()
    assert alerts.rule("health").for_s == 30 and alerts.rule("unreachable").for_s == 30


def test_overrides() -> None:
    text = (
        HOST
        + """
[alerts]
bell = true
notify = ["/usr/local/bin/page-me", "--team", "llm; rm -rf /"]
notify_timeout_s = 3

[alerts.health]
for_s = 45
load_timeout_s = 600

[alerts.throughput]
fraction = 0.5
clear_s = 0

[alerts.memory]
enabled = false
"""
    )
    alerts = parse_config(text, PATH).alerts
    assert alerts.bell is True and alerts.notify == ("/usr/local/bin/page-me", "--team", "llm; rm -rf /")
    assert alerts.notify_timeout_s == 3.0
    assert (alerts.rule("health").for_s, alerts.rule("health").load_timeout_s) == (45.0, 600.0)
    assert alerts.rule("health").clear_s == DEFAULT_RULES["health"].clear_s  # untouched keys keep defaults
    assert (alerts.rule("throughput").fraction, alerts.rule("throughput").clear_s) == (0.5, 0.0)
    assert alerts.rule("memory").enabled is False and alerts.rule("unit") == DEFAULT_RULES["unit"]


@pytest.mark.parametrize(
    ("tail", "line", "words"),
    [
        ("[alerts]\nbel = true\n", 10, "unknown key 'bel' in [alerts] (did you mean 'bell'?)"),
        ('[alerts]\nbell = "yes"\n', 10, "key 'bell': expected true or false"),
        ('[alerts]\nnotify = "page-me --now"\n', 10, "key 'notify': expected a command as an array of strings"),
        ("[alerts]\nnotify = []\n", 10, "expected a command as an array"),
        ("[alerts]\nnotify_timeout_s = 0\n", 10, "expected a positive number of seconds"),
        (
            "[alerts]\n\n[alerts.health]\nfor_s = -1\n",
            12,
            "[alerts.health]: key 'for_s': expected a number of seconds ≥ 0",
        ),
        ("[alerts.throughput]\nfraction = 1.5\n", 10, "key 'fraction': expected a number between 0 and 1"),
        ("[alerts.gpu_temp]\nlimit = 80\n", 10, "unknown key 'limit' in [alerts.gpu_temp] (did you mean 'limit_c'?)"),
        ("[alerts.unit]\nrestarts = 2.5\n", 10, "key 'restarts': expected a positive integer"),
        ("[alerts.memory]\nlimit_c = 80\n", 10, "unknown key 'limit_c' in [alerts.memory]"),
        ("[alerts]\nhealth = 30\n", 10, "key 'health': expected a table [alerts.health]"),
        ("[alerts]\nnonsense = 1\n", 10, "valid keys: bell, gpu_temp, health, kernel, memory, memory_pressure, notify"),
    ],
)
def test_errors_name_the_file_line_and_key(tail: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(HOST + "\n" + tail, PATH)
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"{PATH}:{line}: ") and words in str(caught.value)


def test_alerts_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"hosts.toml:1: key 'alerts': expected a table \[alerts\]"):
        parse_config("alerts = 5\n" + HOST, PATH)
