"""The doctor's look at one host: each check asks the host (read-only) and gives a verdict with its fix.

Nothing here changes the host: `systemctl show`, `journalctl -n 1`, `sudo -n -l`, `nvidia-smi`, reads of
/proc and the API's GET endpoints, a timed `stat` of the model share, `--version`/`--help` of tools.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gb10dash.actions.llama_help import check_flags_step
from gb10dash.actions.rebuild import DEFAULT_NVCC, arch_for_host, remote_path
from gb10dash.actions.sudoers import (
    allows,
    needed_commands,
    parse_sudo_list,
    sudoers_rule,
)
from gb10dash.collectors import gpu, journal, systemd
from gb10dash.collectors.llama import HealthState
from gb10dash.collectors.mounts import MountProber, MountState
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import Config, HostConfig
from gb10dash.core.monitor import HostMonitor
from gb10dash.doctor.checks import Check, fail, ok, warn
from gb10dash.transport.base import TransportError

SUDOERS_FIX = (
    "gb10dash sudoers {host} > gb10dash.sudoers, then on the host: sudo visudo -cf gb10dash.sudoers && "
    "sudo install -m 0440 gb10dash.sudoers /etc/sudoers.d/gb10dash"
)


@dataclass
class Found:
    """What an earlier check learned that a later one needs (asked of the host once)."""

    login: str = "?"
    unit: UnitStatus | None = None
    compute_cap: str | None = None


async def diagnose(config: Config, host: HostConfig) -> list[Check]:
    monitor = HostMonitor(host, config.ssh)
    try:
        try:
            await monitor.transport.connect()
        except TransportError as exc:
            return [fail("ssh", str(exc), _ssh_fix(host, str(exc)))]
        found = Found((await monitor.transport.run(["id", "-un"], timeout=10)).stdout.strip() or "?")
        checks = [
            ok(
                "ssh",
                f"{host.ssh_alias or host.name}: logged in as {found.login}"
                if host.transport == "ssh"
                else f"local transport, as {found.login}",
            )
        ]
        probes: list[tuple[str, Callable[[], Awaitable[Check | None]]]] = [
            ("unit", lambda: _unit(monitor, host, found)),
            ("flags", lambda: _flags(monitor, found.unit)),
            ("journal", lambda: _journal(monitor, host)),
            ("sudo", lambda: _sudo(monitor, host, found)),
            ("gpu", lambda: _gpu(monitor, found)),
            ("process files", lambda: _process_files(monitor, found.unit)),
            ("api", lambda: _api(monitor, host)),
            ("share", lambda: _share(monitor, host)),
            ("build", lambda: _build(monitor, host, found.compute_cap)),
        ]
        for name, probe in probes:  # in order: a later check uses what an earlier one found
            try:
                async with asyncio.timeout(60):
                    check = await probe()
            except (TransportError, ValueError, OSError, TimeoutError) as exc:
                check = fail(name, f"could not check: {exc or type(exc).__name__}")
            if check is not None:
                checks.append(check)
        return checks
    finally:
        await monitor.close()


def _ssh_fix(host: HostConfig, message: str) -> str:
    alias = host.ssh_alias or host.name
    if "host key" in message:
        return (
            f"compare the host's key (on the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) with "
            f"`ssh-keyscan -t ed25519 {alias} | ssh-keygen -lf -`, then `ssh {alias} true` once to record it"
        )
    if "authentication" in message:
        return f"check User and IdentityFile of Host {alias} in ~/.ssh/config; `ssh {alias} true` must work"
    return f"`ssh {alias} true` must work without a prompt (Host {alias} in ~/.ssh/config)"


async def _unit(monitor: HostMonitor, host: HostConfig, found: Found) -> Check:
    if not host.unit:
        return warn(
            "unit",
            'watch-only host (unit = ""): restart, swap and rebuild are refused',
            'set unit = "NAME.service" in the config if llama-server runs under systemd',
        )
    unit = await systemd.collect_unit(monitor.transport, host.unit)
    if not unit.fragment_path or unit.raw.get("LoadState") == "not-found":
        return fail(
            "unit",
            f"{host.unit} is not loaded on the host (no unit file)",
            "set `unit` in the config to the llama-server's unit (systemctl list-units 'llama*')",
        )
    found.unit = unit
    if not unit.exec_start:
        return fail("unit", f"{host.unit} ({unit.fragment_path}) has no ExecStart gb10dash can read")
    state = f"{unit.active_state}/{unit.sub_state}"
    return ok("unit", f"{host.unit} {state}, {unit.fragment_path}, ExecStart {unit.exec_start[0]}")


async def _flags(monitor: HostMonitor, unit: UnitStatus | None) -> Check | None:
    if unit is None or not unit.exec_start:
        return None
    binary = unit.exec_start[0]
    done = await monitor.transport.run([binary, "--help"], timeout=30)
    problems, _rewritten = check_flags_step(done.stdout + done.stderr, shlex.join(unit.exec_start))
    if problems:
        return fail(
            "flags",
            problems.replace("\n", " / "),
            "fix the unit's ExecStart (gb10dash rebuild offers the rewritten one after a build)",
        )
    return ok("flags", f"{binary} accepts every flag of the ExecStart")


async def _journal(monitor: HostMonitor, host: HostConfig) -> Check | None:
    if not host.unit:
        return None
    problem = await journal.check_journal_access(monitor.transport, host.unit)
    if problem is not None:
        text, _, fix = problem.partition(": add ")
        return fail("journal", text, "add " + fix if fix else "")
    return ok("journal", f"{host.unit}'s journal is readable")


async def _sudo(monitor: HostMonitor, host: HostConfig, found: Found) -> Check:
    if host.unit and found.unit is None:
        return warn("sudo", "not checked: the unit is not known")
    needed = needed_commands(host, found.unit)
    listed = await monitor.transport.run(["sudo", "-n", "-l"], timeout=30)
    fix = SUDOERS_FIX.format(host=host.name)
    if not listed.ok:
        why = (listed.stderr.strip() or listed.stdout.strip() or f"exit {listed.exit_status}").splitlines()[-1]
        return fail("sudo", f"sudo allows nothing without a password ({why})", fix)
    missing = [argv for argv in needed if not allows(parse_sudo_list(listed.stdout), argv)]
    if missing:
        rules = "; ".join(f"`{sudoers_rule(found.login, argv)}`" for argv in missing)
        return fail(
            "sudo",
            f"{len(missing)} of the {len(needed)} commands the plans run with sudo are not allowed: {rules}",
            fix,
        )
    return ok("sudo", f"all {len(needed)} commands the plans run with sudo are allowed (sudo -n -l)")


async def _gpu(monitor: HostMonitor, found: Found) -> Check:
    try:
        samples = await gpu.collect_gpu(monitor.transport)
    except ValueError as exc:
        if "not found" in str(exc) or "127" in str(exc):
            return fail(
                "gpu",
                f"nvidia-smi is not there ({exc})",
                "install the NVIDIA driver's utilities (nvidia-smi) on the host, in the login's PATH",
            )
        raise
    if not samples:
        return fail("gpu", "nvidia-smi lists no GPU", "check the driver: nvidia-smi on the host")
    first = samples[0]
    found.compute_cap = first.compute_cap
    memory = "memory [N/A]: unified, read from /proc/meminfo" if not first.memory_supported else "memory reported"
    return ok("gpu", f"{first.name}, compute_cap {first.compute_cap or '?'}; {memory}")


async def _process_files(monitor: HostMonitor, unit: UnitStatus | None) -> Check | None:
    pid = unit.main_pid if unit is not None else None
    if not pid:
        return None
    try:
        await monitor.transport.read_file(f"/proc/{pid}/io", timeout=10)
    except PermissionError:
        return warn(
            "process files",
            f"/proc/{pid}/io is not readable by the login (the server runs as another "
            f"user): a model load's progress is estimated from past loads",
            "run the unit as the login user (User= in a drop-in) for a measured load bar",
        )
    except FileNotFoundError:
        return warn("process files", f"the server's process {pid} went away while it was read")
    return ok("process files", f"/proc/{pid}/status and io are readable")


async def _api(monitor: HostMonitor, host: HostConfig) -> Check:
    client = await monitor.api_client()
    health = await client.health()
    via = " through the SSH forward" if host.api_via_ssh else ""
    if health.state is not HealthState.OK:
        return fail(
            "api",
            f"{host.api_url}{via}: /health {health.state.value}" + (f" ({health.message})" if health.message else ""),
            "start the service, or fix api_url / api_via_ssh in the config",
        )
    if await client.metrics() is None:
        return fail(
            "api",
            f"{host.api_url}{via}: /health ok, but /metrics is off (no tok/s, no ledger)",
            "add --metrics to the unit's ExecStart",
        )
    if await client.slots() is None:
        return warn(
            "api",
            f"{host.api_url}{via}: /health and /metrics ok, /slots is off (no slot lines)",
            "add --slots to the unit's ExecStart",
        )
    return ok("api", f"{host.api_url}{via}: /health ok, /metrics and /slots on")


async def _share(monitor: HostMonitor, host: HostConfig) -> Check:
    prober = MountProber(monitor.transport, host.model_share, mounted=host.model_share_mounted)
    try:
        status = await prober.probe()
    finally:
        await prober.close()
    if status.ok:
        kind = status.entry.fstype if status.entry else "plain directory"
        return ok("share", f"{host.model_share} {status.state.value} ({kind}), stat {status.stat_seconds or 0:.3f} s")
    if status.state is MountState.NOT_MOUNTED:
        return fail(
            "share",
            f"{host.model_share} is not mounted",
            f"mount it on the host (sudo mount {host.model_share}), or set model_share_mounted = false "
            f"if the models sit in a plain directory",
        )
    return fail(
        "share",
        f"{host.model_share} {status.state.value}: {status.error or ''}".rstrip(": "),
        "check the NFS server and the host's mount (a hung hard mount blocks model loads)",
    )


async def _build(monitor: HostMonitor, host: HostConfig, compute_cap: str | None) -> Check:
    local = host.transport == "local"
    src, build = remote_path(host.llama_cpp_dir, local=local), remote_path(host.build_dir, local=local)
    missing = []
    for label, path in (("source", src), ("build", build)):
        try:
            await monitor.transport.stat_path(path)
        except (OSError, TransportError):
            missing.append(f"the llama.cpp {label} directory {path}")
    cmake = await monitor.transport.run(["cmake", "--version"], timeout=20)
    if not cmake.ok:
        missing.append("cmake")
    if missing:
        return fail(
            "build",
            "missing: " + ", ".join(missing),
            "clone llama.cpp into llama_cpp_dir and install cmake (apt-get install cmake build-essential)",
        )
    arch, why = arch_for_host(compute_cap, None, host.cuda_arch)
    if arch is None:
        return ok("build", f"source, build dir and cmake there; a rebuild is {why}")
    nvcc = await monitor.transport.run([DEFAULT_NVCC, "--version"], timeout=20)
    if not nvcc.ok:
        return warn(
            "build",
            f"source, build dir and cmake there; a rebuild would build for {arch} ({why}), but "
            f"{DEFAULT_NVCC} is not there",
            "install the CUDA toolkit (nvcc), or rebuild with --arch cpu",
        )
    return ok("build", f"source, build dir, cmake and nvcc there; a rebuild builds for {arch} ({why})")
