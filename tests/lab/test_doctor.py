"""`gb10dash doctor` on the real hosts: nothing is ✗ as the lab stands, and each fault injected alone gives
its ✗ with the right fix — a sudoers rule gone, the login out of systemd-journal, --metrics off, a share
path with nothing mounted, an unknown host key, nvidia-smi missing. Read-only: the host is unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from gb10dash.lab.hosts_lab import HostsLab

from . import labctl

HOST = "stella"


@pytest.fixture(autouse=True)
def real_hosts(lab) -> None:
    if not isinstance(lab, HostsLab):
        pytest.skip("the doctor's faults need the real-hosts lab")


def doctor(config: Path, host: str = HOST) -> tuple[int, dict[str, dict]]:
    env = dict(os.environ, GB10DASH_CONFIG=str(config))
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "doctor", "--json", host],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    doc = json.loads(proc.stdout)
    (host,) = doc["hosts"]
    return proc.returncode, {check["name"]: check for check in host["checks"]}


def verdicts(checks: dict[str, dict]) -> dict[str, str]:
    return {name: check["verdict"] for name, check in checks.items()}


def test_as_the_lab_stands_nothing_is_broken(lab: HostsLab) -> None:
    code, checks = doctor(lab.config_path)
    print("\n" + "\n".join(f"{c['verdict']:>4} {n}: {c['detail']}" for n, c in checks.items()))
    assert code == 0
    assert list(checks) == ["ssh", "unit", "flags", "journal", "sudo", "gpu", "process files", "api", "share", "build"]
    # the lab's limits, said as such: its server runs as another user (as on the real hosts), and a machine
    # without the CUDA toolkit has no nvcc for a CUDA rebuild
    has_nvcc = labctl.shim(lab, HOST, "test", "-x", "/usr/local/cuda/bin/nvcc").returncode == 0
    assert verdicts(checks) == {
        **dict.fromkeys(checks, "ok"),
        "process files": "warn",
        "build": "ok" if has_nvcc else "warn",
    }
    assert "estimated from past loads" in checks["process files"]["detail"]
    assert ("nvcc there" in checks["build"]["detail"]) if has_nvcc else ("--arch cpu" in checks["build"]["fix"])
    assert checks["gpu"]["detail"] == "NVIDIA H100 80GB HBM3, compute_cap 9.0; memory reported"
    code, gb10 = doctor(lab.config_path, "pegasus")  # the GB10 profile: nvidia-smi says [N/A] for memory
    assert code == 0 and gb10["gpu"]["detail"].endswith(
        "compute_cap 12.1; memory [N/A]: unified, read from /proc/meminfo"
    )
    text = subprocess.run(
        [sys.executable, "-m", "gb10dash", "doctor", HOST],
        capture_output=True,
        text=True,
        env=dict(os.environ, GB10DASH_CONFIG=str(lab.config_path)),
        timeout=180,
    )
    assert text.returncode == 0 and "✓ ssh" in text.stdout and "! process files" in text.stdout
    assert text.stdout.rstrip().endswith("✓ every check passed")


def broken(lab: HostsLab, config: Path | None = None) -> dict[str, dict]:
    code, checks = doctor(config or lab.config_path)
    assert code == 1
    return {name: check for name, check in checks.items() if check["verdict"] == "fail"}


def test_a_missing_sudoers_rule(lab: HostsLab) -> None:
    with labctl.sudoers_without(lab, HOST, "reset-failed") as dropped:
        (sudo,) = broken(lab).values()
    assert sudo["name"] == "sudo" and dropped.replace("\\", "") in sudo["detail"].replace("\\", "")
    assert sudo["fix"].startswith(f"gb10dash sudoers {HOST} > gb10dash.sudoers")


def test_the_login_outside_the_journal_group(lab: HostsLab) -> None:
    assert labctl.shim(lab, HOST, "gpasswd", "-d", "llm-agent", "systemd-journal").returncode == 0
    try:
        (journal,) = broken(lab).values()
    finally:
        assert labctl.shim(lab, HOST, "gpasswd", "-a", "llm-agent", "systemd-journal").returncode == 0
    assert journal["name"] == "journal"
    assert journal["fix"].startswith("add llm-agent to the group systemd-journal (sudo usermod -aG systemd-journal")


def without_metrics(lab: HostsLab) -> AbstractContextManager[None]:
    return labctl.served_with(
        lab, HOST, "zz-doctor-no-metrics.conf", lambda argv: [w for w in argv if w != "--metrics"]
    )


def test_metrics_off(lab: HostsLab) -> None:
    with without_metrics(lab):
        (api,) = broken(lab).values()
    assert api["name"] == "api" and "/metrics is off" in api["detail"]
    assert api["fix"] == "add --metrics to the unit's ExecStart"


def test_nothing_mounted_at_the_share(lab: HostsLab, tmp_path: Path) -> None:
    head, tail = lab.config_path.read_text().rsplit('model_share = "/mnt/models"', 1)  # stella's
    config = tmp_path / "hosts.toml"
    config.write_text(head + 'model_share = "/srv"' + tail)
    (share,) = broken(lab, config).values()
    assert share["name"] == "share" and share["detail"] == "/srv is not mounted"
    assert "sudo mount /srv" in share["fix"] and "model_share_mounted = false" in share["fix"]


def test_an_unknown_host_key(lab: HostsLab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    ssh_config = labctl.ssh_config_with_known_hosts(lab, empty, tmp_path / "ssh_config")
    config = tmp_path / "hosts.toml"
    config.write_text(lab.config_path.read_text().replace(str(lab.ssh_config_path), str(ssh_config)))
    code, checks = doctor(config)
    assert code == 1 and list(checks) == ["ssh"]  # nothing else can be asked
    assert checks["ssh"]["verdict"] == "fail" and "host key" in checks["ssh"]["detail"]
    assert "ssh-keyscan -t ed25519 stella-llm" in checks["ssh"]["fix"]


def test_nvidia_smi_missing(lab: HostsLab) -> None:
    smi = labctl.container(lab, HOST).root / "usr/bin/nvidia-smi"
    aside = smi.with_name("nvidia-smi.doctor-test")
    smi.rename(aside)
    try:
        failures = broken(lab)
    finally:
        aside.rename(smi)
    assert list(failures) == ["gpu"]
    assert "nvidia-smi is not there" in failures["gpu"]["detail"]
    assert failures["gpu"]["fix"].startswith("install the NVIDIA driver's utilities")
