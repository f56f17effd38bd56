"""[keys] in hosts.toml: binding ids and key names checked, errors with the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from minimal_config import ONE_HOST as HOST

from gb10dash.config import ConfigError, parse_config


def parse(keys: str):
    return parse_config(HOST + "\n[keys]\n" + keys, Path("hosts.toml"))


def test_remaps_are_kept_normalised() -> None:
    config = parse('restart = "ctrl+r"\nnext_host = "n, right"\n')
    assert config.keys == {"restart": "ctrl+r", "next_host": "n,right"}
    assert parse_config(HOST, Path("hosts.toml")).keys == {}


@pytest.mark.parametrize(
    ("keys", "message", "line"),
    [
        ('restrat = "r"\n', "did you mean 'restart'", 10),
        ('restart = ""\n', "expected a key such as", 10),
        ("restart = 3\n", "expected a key such as", 10),
        ('quit = "q"\nrestart = "ctrl+space bar"\n', "is not a key name", 11),
        ('restart = "hyperctrl+r"\n', "is not a key name", 10),
        ('quit = "q"\nrestart = "q"\n', "'q' is already the key of quit", 11),
    ],
)
def test_bad_keys_name_the_line(keys: str, message: str, line: int) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(keys)
    assert message in str(caught.value) and f"hosts.toml:{line}:" in str(caught.value)
