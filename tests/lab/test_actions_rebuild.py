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
from gb10dash.actions.rebuild import prepare_rebuild
from gb10dash.actions.runner import run_plan
from gb10dash.core.monitor import HostMonitor
from gb10dash.lab import Lab, llama_src

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
        return labctl.llama_source(lab, HOST)
    except llama_src.SourceNotFound as exc:  # scripts/setup --test fetches it: missing is a broken setup
        pytest.fail(str(exc), pytrace=False)


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
        plan = await prepare_rebuild(
            host, monitor.transport, monitor.api_client, restart=restart, arch_override="cpu", jobs=os.cpu_count() or 2
        )
        result = await run_plan(plan, monitor.transport, monitor.api_client, unit=host.unit)
        return plan, result
    finally:
        await monitor.close()


async def test_a_broken_commit_leaves_the_service_untouched(lab: Lab, source: Path) -> None:
    build = lab.layout.host(HOST).build_dir
    before_pid, before_link = main_pid(lab), os.readlink(build) if build.is_symlink() else None
    work = llama_src.upstream_paths(lab.layout)[1]
    broken = '#error "gb10dash lab: a broken commit"'
    # the file as upstream has it, less any break an interrupted run left there (the upstream is kept)
    current = (work / BROKEN_FILE).read_text()
    text = "".join(line for line in current.splitlines(keepends=True) if line.strip() != broken).rstrip("\n") + "\n"
    if text != current:
        llama_src.push_change(lab.layout, BROKEN_FILE, text, "unbreak what an interrupted run left")
    llama_src.push_change(lab.layout, BROKEN_FILE, text + "\n" + broken + "\n", "break it")
    try:
        plan, result = await rebuild(lab)
    finally:
        llama_src.push_change(lab.layout, BROKEN_FILE, text, "unbreak")
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


OLD_BUILD_WRAPPER = """#!/bin/sh
# an "old build" of llama-server: it takes --no-mmap, as llama.cpp did before --load-mode
for a; do shift; if [ "$a" = --no-mmap ]; then set -- "$@" --load-mode none; else set -- "$@" "$a"; fi; done
exec {real} "$@"
"""


def _pretend_an_old_build(lab: Lab, hp) -> str:
    """The running build takes --no-mmap (a wrapper over the real binary) and the unit's ExecStart, in
    our drop-in, uses it: a rebuild to the current source must rewrite it. Returns the drop-in text."""
    binary = hp.build_dir / "bin" / "llama-server"
    real = os.readlink(binary)
    binary.unlink()
    binary.write_text(OLD_BUILD_WRAPPER.format(real=real))
    binary.chmod(0o755)
    shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
    argv = shown.split("argv[]=")[1].split(" ;")[0].split()
    assert "--load-mode" in argv
    at = argv.index("--load-mode")
    argv[at : at + 2] = ["--no-mmap"]
    text = "[Service]\nExecStart=\nExecStart=" + " ".join(argv) + "\n"
    hp.dropin_dir.mkdir(exist_ok=True)
    (hp.dropin_dir / "gb10dash-model.conf").write_text(text)
    labctl.shim(lab, HOST, "systemctl", "daemon-reload")
    labctl.shim(lab, HOST, "systemctl", "restart", "llama-server")
    lab.wait_ready(60)
    return text


def _cmdline(lab: Lab, pid: int) -> list[str]:
    return Path(f"/proc/{labctl.host_pid(lab, HOST, pid)}/cmdline").read_bytes().decode().split("\0")


def _exe(lab: Lab, pid: int) -> str:
    """The binary the host's process `pid` runs, as the host names it."""
    return os.readlink(f"/proc/{labctl.host_pid(lab, HOST, pid)}/exe")


@pytest.mark.timeout(3600)  # the one real build of the suite: ~6 min on 2 cores
async def test_a_cpu_rebuild_compiles_rewrites_renamed_flags_switches_restarts_and_reverts(
    lab: Lab, source: Path, private_state: Path
) -> None:
    import sys

    hp = lab.layout.host(HOST)
    build = hp.build_dir
    assert not build.is_symlink()
    real_binary = os.readlink(build / "bin" / "llama-server")
    old_dropin = _pretend_an_old_build(lab, hp)
    before_pid = main_pid(lab)
    dropin = hp.dropin_dir / "gb10dash-model.conf"
    env = dict(
        os.environ,
        GB10DASH_CONFIG=str(lab.config_path),
        XDG_STATE_HOME=str(private_state.parent),
        XDG_DATA_HOME=str(private_state.parent.parent / "data"),
    )
    try:
        # the CLI: build (progress printed), the flag check fails on --no-mmap, the rewrite is offered and,
        # with --accept-flag-rewrite, applied: drop-in, switch, restart
        proc = subprocess.run(
            [sys.executable, "-m", "gb10dash", "rebuild", HOST, "--yes", "--arch", "cpu", "--accept-flag-rewrite"],
            env=env,
            capture_output=True,
            text=True,
            timeout=3000,
            stdin=subprocess.DEVNULL,
        )
        # exit 1 only for a regression the check found (then the new build stays: no --revert-on-regression)
        assert proc.returncode == 0 or "REGRESSION: gen tok/s" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "regression check (quick bench):" in proc.stdout and "build after:" in proc.stdout
        print("\n" + proc.stdout[proc.stdout.index("regression check") :])
        assert "[100%]" in proc.stdout and ("[  0%]" in proc.stdout or "[  1%]" in proc.stdout)  # streamed
        assert "--no-mmap is not accepted by the new llama-server" in proc.stderr
        assert "write the rewritten ExecStart" in proc.stdout
        first, second = AuditLog(private_state / "audit.jsonl").read()
        assert first["result"] == "failed" and first["steps"][-1]["title"] == "the unit's flags are accepted"
        assert not any(s["title"].startswith("switch") for s in first["steps"])  # untouched until confirmed
        assert second["action"] == "rebuild-switch" and second["result"] == "ok"
        new_target = os.readlink(build)
        assert new_target.startswith("build-2") and (build.parent / new_target).is_dir()
        assert "version: " in version_of(build.parent / new_target / "bin" / "llama-server")
        after_pid = main_pid(lab)
        assert after_pid != before_pid
        new_binary = (build.parent / new_target / "bin" / "llama-server").resolve()
        assert _exe(lab, after_pid) == labctl.remote_path(lab, HOST, new_binary)
        args = _cmdline(lab, after_pid)
        assert "--no-mmap" not in args and args[args.index("--load-mode") + 1] == "none"
        assert (build.parent / "build.previous-dropin.conf").read_text() == old_dropin
        lab.wait_ready(10)
        durations = {s["title"]: s["duration_s"] for s in first["steps"]}
        print(
            f"\nCPU rebuild: build step {durations['build llama-server']:.0f} s, "
            f"whole plan {first['duration_s'] + second['duration_s']:.0f} s"
        )
        # the one-key revert: the adopted old build again, with the drop-in it ran with, byte for byte
        proc = subprocess.run(
            [sys.executable, "-m", "gb10dash", "rebuild", HOST, "--revert", "--yes"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert os.readlink(build).startswith("build-before-") and os.readlink(f"{build}.previous") == new_target
        assert dropin.read_text() == old_dropin
        assert main_pid(lab) != after_pid
        shown = labctl.shim(lab, HOST, "systemctl", "show", "llama-server", "-p", "ExecStart", "--value").stdout
        assert "--no-mmap" in shown.split() and "--load-mode" not in shown.split()
        lab.wait_ready(30)
    finally:
        _restore_plain_build_dir(build)
        binary = build / "bin" / "llama-server"
        binary.unlink()
        binary.symlink_to(real_binary)
        dropin.unlink(missing_ok=True)
        labctl.shim(lab, HOST, "systemctl", "daemon-reload")
        labctl.shim(lab, HOST, "systemctl", "restart", "llama-server")
        lab.wait_ready(60)


def _restore_plain_build_dir(build: Path) -> None:
    """Leave the lab as it was: build/ a plain directory again, the new build removed."""
    adopted = sorted(build.parent.glob("build-before-*"))
    if build.is_symlink() and adopted:
        build.unlink()
        adopted[-1].rename(build)
    if not build.is_symlink():
        for leftover in build.parent.glob("build-2*"):
            shutil.rmtree(leftover, ignore_errors=True)
    for kept in (build.parent / "build.previous", build.parent / "build.previous-dropin.conf"):
        kept.unlink(missing_ok=True)


def test_the_cli_shows_the_plan_and_runs_nothing_unconfirmed(lab: Lab) -> None:
    import sys

    build = lab.layout.host("pegasus").build_dir
    before = os.readlink(build) if build.is_symlink() else None
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "rebuild", "pegasus"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and "add --yes" in proc.stderr
    assert "CUDA build for arch 121a-real" in proc.stdout  # the config's cuda_arch wins
    assert "cmake --build " in proc.stdout and "--target llama-server" in proc.stdout
    assert "switch to the new build: mv -T" in proc.stdout and "previous build kept for revert" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "gb10dash", "rebuild", "pegasus", "--no-restart", "--arch", "cpu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert "CPU build (-DGGML_CUDA=OFF)" in proc.stdout and "mv -T" not in proc.stdout
    assert (os.readlink(build) if build.is_symlink() else None) == before
    assert not list(build.parent.glob("build-2*"))
