"""Rebuild against the lab: a real git pull and a real CPU cmake build of llama-server over ssh.

One real build in the suite (minutes on 2 cores). The broken-commit case runs first and fails
within seconds of compiling (the broken file is among the first compiled): the service is untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.rebuild import plan_revert, prepare_rebuild
from gb10dash.actions.runner import run_plan
from gb10dash.lab import Lab
from gb10dash.lab import llama_src
from gb10dash.monitor import HostMonitor

from . import labctl

HOST = "stella"
BROKEN_FILE = "ggml/src/ggml.c"  # compiled at [ 1%]: the broken build fails fast


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


@pytest.fixture(scope="module")
def source(lab: Lab) -> Path:
    try:
        return llama_src.ensure_host_source(lab.layout, HOST)
    except llama_src.SourceNotFound as exc:
        pytest.skip(str(exc))


def main_pid(lab: Lab) -> int:
    shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "MainPID", "--value")
    return int(shown.stdout.strip())


def version_of(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout + done.stderr


async def rebuild(lab: Lab, *, restart: bool = True):
    config = labctl.config(lab)
    host = config.host(HOST)
    monitor = HostMonitor(host, config.ssh)
    await monitor.transport.connect()
    try:
        plan = await prepare_rebuild(host, monitor.transport, monitor.api_client, restart=restart,
                                     arch_override="cpu", jobs=os.cpu_count() or 2)
        result = await run_plan(plan, monitor.transport, monitor.api_client, unit=host.unit)
        return plan, result
    finally:
        await monitor.close()


async def test_a_broken_commit_leaves_the_service_untouched(lab: Lab, source: Path) -> None:
    build = lab.layout.host(HOST).build_dir
    before_pid, before_link = main_pid(lab), os.readlink(build) if build.is_symlink() else None
    work = llama_src.upstream_paths(lab.layout)[1]
    text = (work / BROKEN_FILE).read_text()
    llama_src.push_change(lab.layout, BROKEN_FILE, text + '\n#error "gb10dash lab: a broken commit"\n', "break it")
    try:
        plan, result = await rebuild(lab)
    finally:
        llama_src.push_change(lab.layout, BROKEN_FILE, None, "unbreak")
    assert "CPU build (-DGGML_CUDA=OFF)" in plan.summary
    assert not result.ok and "cmake --build" in (result.error or "")
    assert "gb10dash lab: a broken commit" in (result.error or "")
    assert len(result.error.splitlines()) <= 41
    steps = {s.title: s.status for s in result.record.steps}
    assert steps["pull the source"] == "ok" and steps["build llama-server"] == "failed"
    assert "switch to the new build" not in steps and "restart the service" not in steps
    assert main_pid(lab) == before_pid
    assert (os.readlink(build) if build.is_symlink() else None) == before_link
    lab.wait_ready(10)
    for leftover in build.parent.glob("build-2*"):
        shutil.rmtree(leftover)


@pytest.mark.timeout(3600)  # the one real build of the suite: ~6 min on 2 cores
async def test_a_cpu_rebuild_compiles_switches_and_restarts(lab: Lab, source: Path, private_state: Path) -> None:
    hp = lab.layout.host(HOST)
    build = hp.build_dir
    before_pid = main_pid(lab)
    assert not build.is_symlink()
    plan, result = await rebuild(lab)
    try:
        assert result.ok, f"{result.error}\n{result.journal}"
        new_target = os.readlink(build)
        assert new_target.startswith("build-2") and (build.parent / new_target).is_dir()
        assert "version: " in version_of(build.parent / new_target / "bin" / "llama-server")
        after_pid = main_pid(lab)
        assert after_pid != before_pid
        exe = Path(f"/proc/{after_pid}/exe").resolve()
        assert exe == (build.parent / new_target / "bin" / "llama-server").resolve()
        lab.wait_ready(10)
        (record,) = AuditLog(private_state / "audit.jsonl").read()
        assert record["result"] == "ok"
        titles = [s["title"] for s in record["steps"]]
        assert titles.index("new binary runs") < titles.index("the unit's flags are accepted") \
            < titles.index("switch to the new build") < titles.index("restart the service")
        print(f"\nCPU rebuild: build step {result.durations['build llama-server']:.0f} s, "
              f"whole plan {record['duration_s']:.0f} s")
        # the one-key revert: back to the adopted previous build, restarted healthy
        previous = next(n for n in plan.notes if n.startswith("previous build kept")).split(": ")[1]
        config = labctl.config(lab)
        monitor = HostMonitor(config.host(HOST), config.ssh)
        await monitor.transport.connect()
        try:
            reverted = await run_plan(plan_revert(config.host(HOST), build_dir=str(build), previous_target=previous),
                                      monitor.transport, monitor.api_client, unit=config.host(HOST).unit)
        finally:
            await monitor.close()
        assert reverted.ok, reverted.error
        assert os.readlink(build) == previous and main_pid(lab) != after_pid
    finally:
        _restore_plain_build_dir(build)


def _restore_plain_build_dir(build: Path) -> None:
    """Leave the lab as it was: build/ a plain directory again, the new build removed."""
    adopted = sorted(build.parent.glob("build-before-*"))
    if build.is_symlink() and adopted:
        build.unlink()
        adopted[-1].rename(build)
    if not build.is_symlink():
        for leftover in build.parent.glob("build-2*"):
            shutil.rmtree(leftover, ignore_errors=True)


def test_the_cli_shows_the_plan_and_runs_nothing_unconfirmed(lab: Lab) -> None:
    import sys

    build = lab.layout.host("pegasus").build_dir
    before = os.readlink(build) if build.is_symlink() else None
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    proc = subprocess.run([sys.executable, "-m", "gb10dash", "rebuild", "pegasus"], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "add --yes" in proc.stderr
    assert "CUDA build for arch 121a-real" in proc.stdout  # the config's cuda_arch wins
    assert "cmake --build " in proc.stdout and "--target llama-server" in proc.stdout
    assert "switch to the new build: mv -T" in proc.stdout and "previous build kept for revert" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "gb10dash", "rebuild", "pegasus", "--no-restart", "--arch", "cpu"],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "CPU build (-DGGML_CUDA=OFF)" in proc.stdout and "mv -T" not in proc.stdout
    assert (os.readlink(build) if build.is_symlink() else None) == before
    assert not list(build.parent.glob("build-2*"))
