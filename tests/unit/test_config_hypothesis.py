"""hosts.toml, property-based: random keys, types and unicode give a Config or a ConfigError that
names the file (and the line, where the problem sits on one) — never another exception."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gb10dash.config import _HOST_KEYS, _SSH_KEYS, Config, ConfigError, parse_config

PATH = Path("/etc/gb10dash/hosts.toml")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALID_HOST = {
    "name": "pegasus",
    "ssh_alias": "pegasus-llm",
    "api_url": "http://127.0.0.1:8000",
    "model_path": "/mnt/models/m.gguf",
    "ctx": 4096,
}

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
scalars = st.one_of(
    text,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.sampled_from(["", "ssh", "local", "http://x", "-1", "a.gguf", "121a-real"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=6,
)
host_keys = st.one_of(st.sampled_from(sorted(_HOST_KEYS)), text)
ssh_keys = st.one_of(st.sampled_from(sorted(_SSH_KEYS)), text)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def document(ssh: dict | None, hosts: list[dict]) -> str:
    lines = []
    if ssh is not None:
        lines += ["[ssh]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in ssh.items()), ""]
    for host in hosts:
        lines += ["[[host]]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in host.items()), ""]
    return "\n".join(lines)


def outcome(text_: str) -> Config | ConfigError:
    try:
        return parse_config(text_, PATH)
    except ConfigError as exc:
        assert str(exc).startswith(str(PATH)), exc
        assert "Traceback" not in str(exc)
        return exc


@SETTINGS
@given(st.text(max_size=300))
@example("host = [1, 2]")
@example("[[host]]\nname = 'a'\n[[host.x]]\n")
@example("host = 'x'\nssh = 3")
def test_any_text_gives_a_config_or_a_config_error(raw: str) -> None:
    outcome(raw)


@SETTINGS
@given(
    st.one_of(st.none(), st.dictionaries(ssh_keys, values, max_size=4)),
    st.lists(st.dictionaries(host_keys, values, max_size=8), max_size=3),
)
def test_random_tables_give_a_config_or_a_config_error(ssh: dict | None, hosts: list[dict]) -> None:
    outcome(document(ssh, hosts))


@SETTINGS
@given(st.sampled_from(sorted(_HOST_KEYS)), values)
def test_a_bad_value_is_reported_on_its_line(key: str, value: object) -> None:
    host = dict(VALID_HOST, **{key: value})
    text_ = document(None, [host])
    result = outcome(text_)
    if isinstance(result, ConfigError):
        line = list(host).index(key) + 2  # [[host]] is line 1
        assert result.line == line, (result, text_)
        assert key in result.message or "TOML syntax error" in result.message


@SETTINGS
@given(text.filter(lambda k: k not in _HOST_KEYS), values)
def test_an_unknown_key_is_named_with_its_line(key: str, value: object) -> None:
    text_ = document(None, [dict(VALID_HOST, **{key: value})])
    result = outcome(text_)
    assert isinstance(result, ConfigError)
    if "TOML syntax error" not in result.message:  # e.g. a key TOML itself refuses
        assert result.line == len(VALID_HOST) + 2, (result, text_)
        assert "unknown key" in result.message
