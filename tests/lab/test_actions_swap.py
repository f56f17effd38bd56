"""Model swap against the lab: the real llama-server serves another GGUF; a corrupt one rolls back
with the drop-ins byte-identical; hostile file names are swapped in, never executed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gb10dash.lab import Lab
from gb10dash.lab.models import ModelSpec, write_model

from . import labctl

HOST = "stella"
ORIGINAL = "Qwen_Qwen3-8B-Q8_0.gguf"


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


@pytest.fixture
def restored(lab: Lab) -> Iterator[Path]:
    """The host's drop-in dir; afterwards the original unit is back (no drop-in, original model)."""
    dropins = lab.layout.host(HOST).dropin_dir
    yield dropins
    (dropins / "gb10dash-model.conf").unlink(missing_ok=True)
    labctl.shim(lab, HOST, "systemctl", "daemon-reload")
    labctl.shim(lab, HOST, "systemctl", "reset-failed", "llama-server")
    assert labctl.shim(lab, HOST, "systemctl", "restart", "llama-server").returncode == 0
    lab.wait_ready(60)
    assert served(lab) == ORIGINAL


def served(lab: Lab) -> str:
    with urllib.request.urlopen(f"{lab.host(HOST).api_url}/v1/models", timeout=10) as response:
        return os.path.basename(json.loads(response.read())["data"][0]["id"])


def swap(lab: Lab, model: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    return subprocess.run(
        [sys.executable, "-m", "gb10dash", "swap", HOST, model, "--yes", "--timeout", "60", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*"))} if directory.is_dir() else {}


def test_swap_serves_the_new_model_and_keeps_the_rest_of_execstart(lab: Lab, restored: Path) -> None:
    proc = swap(lab, "Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf", "--ctx", "2048")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert served(lab) == "Qwen3-14B-Q4_K_M.gguf"
    dropin = (restored / "gb10dash-model.conf").read_text()
    assert dropin.startswith("[Service]\nExecStart=\nExecStart=")
    assert "Qwen3-14B-Q4_K_M.gguf" in dropin and " -c 2048 " in dropin + " "
    assert "--metrics" in dropin and "--load-mode none" in dropin  # everything else untouched
    assert "fits: needs" in proc.stdout  # the fit check is shown with the plan


def test_corrupt_gguf_rolls_back_byte_identical(lab: Lab, restored: Path, private_state: Path) -> None:
    assert swap(lab, "Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf").returncode == 0
    before = snapshot(restored)
    unit_file = lab.layout.host(HOST).unit_file.read_bytes()
    proc = swap(lab, "broken-GGUF/corrupt.gguf", "--force")
    assert proc.returncode == 1
    assert "rolled back" in proc.stderr
    assert snapshot(restored) == before and lab.layout.host(HOST).unit_file.read_bytes() == unit_file
    assert served(lab) == "Qwen3-14B-Q4_K_M.gguf"
    records = [json.loads(line) for line in (private_state / "audit.jsonl").read_text().splitlines()]
    assert records[-1]["action"] == "swap" and records[-1]["result"] == "rolled back"


POLICIES = {
    # RestartSec=3 keeps a model that fails at once under systemd's start limit (5 starts in 10 s):
    # the unit loops in auto-restart and never goes failed by itself
    "auto-restart loop": "[Service]\nRestartSec=3\n",
    # restarted at once with a start limit of 2, it is failed (start limit hit) within milliseconds
    "start limit": "[Unit]\nStartLimitBurst=2\n[Service]\nRestartSec=0\n",
}


@pytest.mark.parametrize("policy", list(POLICIES))
def test_a_model_that_fails_to_load_is_rolled_back_within_seconds(
    lab: Lab, restored: Path, private_state: Path, policy: str
) -> None:
    """The wait step fails as soon as the process the swap started is gone (auto-restart, a restart by
    systemd, failed), with the server's own reason, instead of at the load timeout (60 s here)."""
    policy_dropin = restored / "zz-test-restart-policy.conf"
    restored.mkdir(parents=True, exist_ok=True)
    policy_dropin.write_text(POLICIES[policy])
    try:
        labctl.shim(lab, HOST, "systemctl", "daemon-reload")
        proc = swap(lab, "broken-GGUF/corrupt.gguf", "--force")
    finally:
        policy_dropin.unlink()
    assert proc.returncode == 1 and "rolled back" in proc.stderr, proc.stdout + proc.stderr
    assert "failed to load model" in proc.stderr  # the journal's reason, in the failure itself
    record = [json.loads(line) for line in (private_state / "audit.jsonl").read_text().splitlines()][-1]
    assert record["result"] == "rolled back"
    wait = next(s for s in record["steps"] if s["title"] == "wait for the model to load")
    assert wait["status"] == "failed"
    print(
        f"\n{policy}: the wait failed {wait['duration_s']:.1f} s after the restart (the corrupt model fails "
        f"at once; load timeout 60 s): {wait.get('detail') or ''}"
    )
    assert wait["duration_s"] < 10
    assert ("failed while starting" if policy == "start limit" else "systemd is restarting it") in wait["detail"]
    assert served(lab) == ORIGINAL


def test_corrupt_gguf_is_not_offered_without_force(lab: Lab) -> None:
    before = served(lab)
    proc = swap(lab, "broken-GGUF/corrupt.gguf")
    assert proc.returncode == 1 and "is not offered" in proc.stderr
    assert served(lab) == before


@pytest.mark.parametrize(
    "name",
    [
        "we ird; 'q' \"d\" ü.gguf",
        "$(touch PWNED) `id` && x.gguf",
        "模型 tab\there.gguf",
    ],
)
def test_hostile_file_names_are_swapped_in_or_refused_never_executed(
    lab: Lab, restored: Path, tmp_path: Path, name: str
) -> None:
    hostile_dir = lab.layout.share_src / 'it\'s "q"; ünï (x)'  # seen through the share's bind mount
    write_model(ModelSpec("m/m.gguf", 64, 2, "Q8_0"), tmp_path / "gen")
    hostile_dir.mkdir(exist_ok=True)
    target = hostile_dir / name
    os.replace(tmp_path / "gen" / "m" / "m.gguf", target)
    canary = Path.cwd() / "PWNED"
    try:
        proc = swap(lab, name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert served(lab) == name
        paths = lab.layout.host(HOST)
        assert not any((d / "PWNED").exists() for d in (canary.parent, paths.root, paths.home, paths.server_home))
    finally:
        target.unlink()
        hostile_dir.rmdir()
