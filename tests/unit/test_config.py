"""Config loading: the example file, lookup order, and every bad case → message + exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gb10dash.config import ConfigError, find_config_path, load_config

REPO = Path(__file__).resolve().parents[2]

GOOD_HOST = """
[[host]]
name = "{name}"
ssh_alias = "{name}-llm"
api_url = "http://127.0.0.1:8000"
model_path = "/mnt/models/x/{name}.gguf"
ctx = 4096
"""


def test_example_config_describes_the_two_real_hosts() -> None:
    config = load_config(REPO / "hosts.toml")
    pegasus, stella = config.hosts
    assert (pegasus.name, pegasus.ssh_alias, pegasus.ctx, pegasus.cuda_arch) == (
        "pegasus",
        "pegasus-llm",
        131072,
        "121a-real",
    )
    assert pegasus.model_path == "/mnt/models/gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4-00001-of-00003.gguf"
    assert (pegasus.baseline_gen_tps, pegasus.baseline_prompt_tps) == (58.8, 1809.0)
    assert (stella.name, stella.ssh_alias, stella.ctx, stella.cuda_arch) == ("stella", "stella-llm", 32768, "121")
    assert stella.model_path == "/mnt/models/Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf"
    assert (stella.baseline_gen_tps, stella.baseline_prompt_tps) == (27.8, 2236.0)
    for host in config.hosts:
        assert host.unit == "llama-server.service"
        assert host.model_share == "/mnt/models"
        assert host.llama_cpp_dir == "~/llama.cpp" and host.build_dir == "~/llama.cpp/build"


def test_any_number_of_hosts(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    path.write_text("".join(GOOD_HOST.format(name=f"h{i}") for i in range(8)))
    assert [h.name for h in load_config(path).hosts] == [f"h{i}" for i in range(8)]


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "gb10dash").mkdir(parents=True)
    (xdg / "gb10dash" / "hosts.toml").write_text(GOOD_HOST.format(name="x"))
    env_file = tmp_path / "env.toml"
    env_file.write_text(GOOD_HOST.format(name="e"))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "hosts.toml").write_text(GOOD_HOST.format(name="c"))
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("GB10DASH_CONFIG", str(env_file))
    assert find_config_path(env_file) == env_file
    assert find_config_path(None) == env_file
    monkeypatch.delenv("GB10DASH_CONFIG")
    assert find_config_path(None) == xdg / "gb10dash" / "hosts.toml"
    (xdg / "gb10dash" / "hosts.toml").unlink()
    assert find_config_path(None) == cwd / "hosts.toml"
    (cwd / "hosts.toml").unlink()
    with pytest.raises(ConfigError, match="no config file found"):
        find_config_path(None)


BAD_CASES = {
    "toml_syntax": ('[[host]]\nname = "a"\nctx = = 3\n', 3, "TOML syntax error"),
    "unknown_key": (GOOD_HOST.format(name="a") + 'modle_path = "x"\n', 8, "unknown key 'modle_path'"),
    "unknown_top": ("[sshh]\nx = 1\n" + GOOD_HOST.format(name="a"), 1, "unknown key 'sshh' in top level"),
    "wrong_type": (
        GOOD_HOST.format(name="a").replace("ctx = 4096", 'ctx = "4k"'),
        7,
        "key 'ctx': expected a positive integer (context size in tokens), got a string '4k'",
    ),
    "negative": (GOOD_HOST.format(name="a").replace("ctx = 4096", "ctx = -1"), 7, "key 'ctx'"),
    "missing": (GOOD_HOST.format(name="a").replace("ctx = 4096\n", ""), 2, "missing required key 'ctx'"),
    "duplicate": (
        GOOD_HOST.format(name="a") + GOOD_HOST.format(name="a"),
        10,
        "duplicate host name 'a' (first defined at line 3)",
    ),
    "bad_url": (GOOD_HOST.format(name="a").replace("http://127.0.0.1:8000", "127.0.0.1:8000"), 5, "key 'api_url'"),
    "no_hosts": ("[ssh]\nconnect_timeout_s = 3\n", None, "expected at least one [[host]] table"),
    "ssh_type": (
        '[ssh]\nconnect_timeout_s = "soon"\n' + GOOD_HOST.format(name="a"),
        2,
        "[ssh]: key 'connect_timeout_s': expected a positive number of seconds",
    ),
    "bad_arch": (GOOD_HOST.format(name="a") + 'cuda_arch = "sm_121"\n', 8, "key 'cuda_arch'"),
    "no_alias": (
        GOOD_HOST.format(name="a").replace('ssh_alias = "a-llm"\n', ""),
        2,
        "transport \"ssh\" needs the key 'ssh_alias'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_config_message_and_exit_2(case: str, tmp_path: Path) -> None:
    text, line, fragment = BAD_CASES[case]
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert fragment in str(info.value)
    assert info.value.line == line
    where = f"{path}:{line}:" if line else f"{path}:"
    assert str(info.value).startswith(where)

    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(path), "status"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"gb10dash: config error: {where}")
    assert fragment in proc.stderr


def test_missing_and_unreadable_files_exit_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(tmp_path / "nope.toml"), "status"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe name = 1")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_unknown_host_on_command_line_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(REPO / "hosts.toml"), "status", "orion"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no host named 'orion' (hosts: pegasus, stella)" in proc.stderr
