"""The lab itself, with real processes: sshd, llama-server, the shims, mounts."""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
import urllib.request
from pathlib import Path

import asyncssh
import psutil
import pytest

from gb10dash.lab import Lab
from gb10dash.lab.layout import HOST_SPECS
from gb10dash.lab.models import CORRUPT, NOT_GGUF_DIR, SPLIT_MODEL
from gb10dash.lab.mounts import is_mount_point
from gb10dash.lab.procs import alive

IS_ROOT = os.geteuid() == 0

#: the tests of the demo's light lab itself (the rest of the suite runs on the real-hosts lab)
ON_SHIM_LAB = True


def ssh(lab: Lab, alias: str, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-F", str(lab.ssh_config_path), "-o", "BatchMode=yes", alias, command],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def get_json(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        return json.loads(r.read())


def lab_pids(root: Path) -> list[int]:
    """Live (non-zombie) processes whose argv names the lab root or whose GB10LAB_ROOT is in it."""
    found = []
    for p in psutil.process_iter():
        try:
            if p.pid == os.getpid() or not alive(p.pid):
                continue
            env_root = p.environ().get("GB10LAB_ROOT", "")
            if any(str(root) in a for a in p.cmdline()) or env_root.startswith(str(root)):
                found.append(p.pid)
        except psutil.Error:
            continue
    return found


def test_ssh_alias_works_with_strict_host_key_checking(lab):
    text = lab.ssh_config_path.read_text()
    assert text.count("StrictHostKeyChecking yes") == 2
    for h in lab.hosts:
        done = ssh(lab, h.alias, "true")
        assert done.returncode == 0, done.stderr


def test_each_alias_reaches_its_own_host_environment(lab):
    seen = {}
    for h in lab.hosts:
        done = ssh(lab, h.alias, 'printf "%s\\n" "$GB10LAB_ROOT"; command -v systemctl')
        assert done.returncode == 0, done.stderr
        env_root, systemctl = done.stdout.split()
        assert Path(env_root) == h.root
        assert Path(systemctl) == h.root / "bin" / "systemctl"
        seen[h.name] = env_root
    assert len(set(seen.values())) == len(lab.hosts)


async def test_asyncssh_connects_and_verifies_host_keys(lab, tmp_path):
    for h in lab.hosts:
        async with asyncssh.connect(h.alias, config=[str(lab.ssh_config_path)]) as conn:
            result = await conn.run('printf %s "$GB10LAB_ROOT"', check=True, timeout=20)
            assert result.stdout == str(h.root)
    # the wrong host key must be refused: give pegasus' port stella's key
    peg, stella = lab.host("pegasus"), lab.host("stella")
    stella_key = next(
        line for line in lab.known_hosts_path.read_text().splitlines() if f":{stella.ssh_port} " in line
    ).split()[1:]
    bad = tmp_path / "known_hosts"
    bad.write_text(f"[127.0.0.1]:{peg.ssh_port} {' '.join(stella_key)}\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        async with asyncssh.connect("pegasus-llm", config=[str(lab.ssh_config_path)], known_hosts=str(bad)):
            pass


def test_llama_servers_are_healthy_and_serve_the_right_model(lab):
    for h in lab.hosts:
        assert get_json(h.api_url + "/health") == {"status": "ok"}
        models = get_json(h.api_url + "/v1/models")
        model_id = models["data"][0]["id"]
        assert model_id.endswith(Path(HOST_SPECS[h.name].model).name)
        assert Path(model_id) == h.model_path


def test_chat_completion_answers(lab):
    for h in lab.hosts:
        reply = get_json(
            h.api_url + "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 8, "ignore_eos": True},
        )  # a first-token EOS leaves no decode rate to report
        assert reply["usage"]["completion_tokens"] > 0
        assert reply["timings"]["predicted_per_second"] > 0


def test_split_model_is_three_real_parts(lab):
    import gguf

    first = lab.host("pegasus").model_path
    assert str(first).endswith(SPLIT_MODEL)
    parts = sorted(first.parent.glob("gpt-oss-120b-mxfp4-*-of-00003.gguf"))
    assert [p.name for p in parts] == [f"gpt-oss-120b-mxfp4-{i:05d}-of-00003.gguf" for i in (1, 2, 3)]
    for i, part in enumerate(parts):
        reader = gguf.GGUFReader(part)
        assert reader.fields["split.no"].contents() == i
        assert reader.fields["split.count"].contents() == 3
        assert len(reader.tensors) > 0


def test_share_has_non_gguf_and_corrupt_entries(lab):
    share = lab.host("stella").root / "models"
    assert (share / NOT_GGUF_DIR / "config.json").is_file()
    assert not list((share / NOT_GGUF_DIR).glob("*.gguf"))
    assert (share / CORRUPT).read_bytes()[:4] == b"GGUF"


def test_share_is_a_read_only_mount_when_root(lab):
    for h in lab.hosts:
        models = h.root / "models"
        if IS_ROOT:
            assert is_mount_point(models)
            with pytest.raises(OSError):
                (models / "x").write_text("no")
        else:  # no mount without root: a plain directory the mounts collector reports "not mounted"
            assert not is_mount_point(models) and h.model_path.is_file()


def test_units_and_gpu_profiles(lab):
    for h in lab.hosts:
        unit = (h.root / "etc/systemd/system/llama-server.service").read_text()
        assert f"--port {h.api_port}" in unit and "Restart=on-failure" in unit and "--load-mode none" in unit
        assert ("--jinja" in unit) == (h.name == "pegasus")
        assert (h.root / "etc/gpu-profile").read_text().strip() == HOST_SPECS[h.name].gpu_profile
        done = ssh(lab, h.alias, "systemctl is-active llama-server.service")
        assert done.stdout.strip() == "active", done.stderr


def test_hosts_toml_matches_the_lab_and_loads(lab):
    from gb10dash.config import load_config

    raw = tomllib.loads(lab.config_path.read_text())
    assert raw["ssh"]["config_file"] == str(lab.ssh_config_path)
    by_name = {h["name"]: h for h in raw["host"]}
    for h in lab.hosts:
        entry = by_name[h.name]
        assert entry["ssh_alias"] == h.alias and entry["api_url"] == h.api_url
        assert entry["model_path"] == str(h.model_path) and entry["model_share"] == str(h.root / "models")
    config = load_config(lab.config_path)
    assert [c.name for c in config.hosts] == [h.name for h in lab.hosts]


def test_start_twice_is_a_no_op(lab):
    before = json.loads((lab.root / "lab.json").read_text())
    assert lab.is_running()
    assert lab.start() is False
    after = json.loads((lab.root / "lab.json").read_text())
    assert after == before


def test_stop_leaves_no_process_behind(tmp_path):
    root = tmp_path / "lab"
    other = Lab(root)
    assert other.start() is True
    try:
        other.wait_ready(timeout=60)
        assert lab_pids(root), "expected sshd and llama-server processes naming the lab root"
    finally:
        assert other.stop() is True
    assert lab_pids(root) == []
    assert not other.is_running()
    assert all(not is_mount_point(h.root / "models") for h in other.hosts)
    assert other.stop() is False  # idempotent
