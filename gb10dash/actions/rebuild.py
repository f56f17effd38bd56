"""Rebuild llama.cpp: pull, configure a NEW build dir, build llama-server, check it, switch atomically.

Pure planning. The unit runs `<build_dir>/bin/llama-server`; build_dir becomes a symlink to the
build that is live (`build-<stamp>` beside it), switched with `ln -sfn NEW TMP && mv -T TMP build_dir`
(rename(2) is atomic), so the previous build stays for a one-key revert. Until the switch nothing
the service uses is touched: a failing pull, configure, build, --version or flag check leaves it as
it was. The first rebuild adopts a plain build directory: it is renamed to `build-before-<stamp>`
and build_dir becomes a link to it (same binary) before the switch proper.
"""

from __future__ import annotations

import contextlib
import posixpath
import shlex
import time
from collections.abc import Awaitable, Callable

from gb10dash.actions.build_checks import cache_grep_argv
from gb10dash.actions.build_switch import (
    link_target,
    point,
    prepare_flag_rewrite,
    remember_previous,
    restart_steps,
    sibling,
)
from gb10dash.actions.executor import PlanResult
from gb10dash.actions.plan import Plan, Step, StepKind
from gb10dash.actions.swap import current_exec_start
from gb10dash.actions.watch_only import require_unit
from gb10dash.collectors import systemd
from gb10dash.collectors.gpu import cuda_arch_for
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import HostConfig
from gb10dash.transport.base import Transport, TransportError

BUILD_TIMEOUT_S = 3600.0
LOAD_TIMEOUT_S = 300.0
SWITCH_TITLE = "switch to the new build"
FAILURE_TAIL_LINES = 40
DEFAULT_NVCC = "/usr/local/cuda/bin/nvcc"


def remote_path(path: str, *, local: bool = False) -> str:
    """A config path as a command argument: `~/x` → `x` over ssh (commands start in $HOME), never a
    quoted literal "~"; expanded with the local home for the local transport."""
    if local:
        return posixpath.expanduser(path)
    if path == "~":
        return "."
    if path.startswith("~/"):
        return path[2:].lstrip("/") or "."
    if path.startswith("~"):
        raise ValueError(f"{path!r}: ~user paths are not supported; write the path relative to the home")
    return path


def arch_for_host(compute_cap: str | None, model_ftype: str | None, override: str | None) -> tuple[str | None, str]:
    """(CMAKE_CUDA_ARCHITECTURES or None for a CPU build, why)."""
    if override:
        if override.lower() in ("cpu", "none", "off"):
            return None, f"CPU build (override {override!r})"
        return override, f"arch {override} from the override"
    if not compute_cap:
        return None, "no GPU found (nvidia-smi reports none): CPU build, -DGGML_CUDA=OFF"
    mxfp4 = model_ftype is not None and "MXFP4" in model_ftype.upper()
    arch = cuda_arch_for(compute_cap, mxfp4=mxfp4)
    why = f"compute_cap {compute_cap.strip()} → {arch}"
    if arch.endswith("a-real"):
        why += f" (the loaded model is {model_ftype}: MXFP4 needs the arch-specific target)"
    return arch, why


def cmake_configure_argv(
    src: str, build: str, arch: str | None, *, nvcc: str | None = DEFAULT_NVCC, extra: tuple[str, ...] = ()
) -> list[str]:
    argv = ["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release"]
    if arch is None:
        argv.append("-DGGML_CUDA=OFF")
    else:
        argv += ["-DGGML_CUDA=ON", "-DGGML_CUDA_F16=ON", f"-DCMAKE_CUDA_ARCHITECTURES={arch}"]
        if nvcc:
            argv.append(f"-DCMAKE_CUDA_COMPILER={nvcc}")
    argv += ["-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", *extra]
    return argv


def plan_rebuild(
    host: HostConfig,
    *,
    arch: str | None,
    src_dir: str,
    build_dir: str,
    new_build_dir: str,
    jobs: int,
    restart: bool,
    current_exec_start: tuple[str, ...] | list[str],
    previous_target: str | None,
    adopt_as: str | None = None,
    arch_reason: str = "",
    nvcc: str | None = DEFAULT_NVCC,
    extra_cmake: tuple[str, ...] = (),
    load_timeout_s: float = LOAD_TIMEOUT_S,
    build_timeout_s: float = BUILD_TIMEOUT_S,
) -> Plan:
    """previous_target: what build_dir links to now (None: build_dir is a plain directory, adopted
    as `adopt_as` before the switch). Paths are as the remote commands see them (see remote_path)."""
    server = posixpath.join(new_build_dir, "bin", "llama-server")
    kind = "CPU build (-DGGML_CUDA=OFF)" if arch is None else f"CUDA build for arch {arch}"
    steps = [
        Step("current commit", argv=("git", "-C", src_dir, "rev-parse", "HEAD"), why="the commit now built"),
        Step(
            "pull the source",
            argv=("git", "-C", src_dir, "pull", "--ff-only"),
            timeout_s=300.0,
            why="fast-forward only: local changes or a diverged branch stop here",
        ),
        Step("new commit", argv=("git", "-C", src_dir, "log", "-1", "--format=%h %s")),
        Step(
            "configure a new build dir",
            argv=tuple(cmake_configure_argv(src_dir, new_build_dir, arch, nvcc=nvcc, extra=extra_cmake)),
            timeout_s=600.0,
            tail_lines=FAILURE_TAIL_LINES,
            why=arch_reason or kind,
        ),
        Step(
            "build llama-server",
            argv=("cmake", "--build", new_build_dir, "-j", str(jobs), "--target", "llama-server"),
            timeout_s=build_timeout_s,
            tail_lines=FAILURE_TAIL_LINES,
            streamed=True,
            why=f"{jobs} jobs; the running service is not touched",
        ),
        Step("new binary runs", argv=(server, "--version"), timeout_s=30.0, tail_lines=FAILURE_TAIL_LINES),
        Step(
            "built for the host's arch",
            kind=StepKind.CHECK_ARCH,
            argv=cache_grep_argv(new_build_dir),
            expect=arch or "cpu",
            timeout_s=30.0,
            why="the new CMakeCache.txt must record " + (f"CUDA arch {arch}" if arch else "a CPU build"),
        ),
        Step(
            "the unit's flags are accepted",
            kind=StepKind.CHECK_FLAGS,
            argv=(server, "--help"),
            timeout_s=30.0,
            expect=shlex.join(current_exec_start),
            why="every flag of the current ExecStart must be in the new --help (llama.cpp renames flags)",
        ),
    ]
    notes = [] if arch is not None else ["no CUDA: this is a CPU build (-DGGML_CUDA=OFF)"]
    if restart:
        new_target = link_target(new_build_dir, build_dir)
        back = previous_target
        if previous_target is None:
            if not adopt_as:
                raise ValueError("build_dir is a plain directory: adopt_as (its new name) is needed")
            back = link_target(adopt_as, build_dir)
            steps += [
                Step(
                    "keep the current build",
                    argv=("mv", "-T", build_dir, adopt_as),
                    why=f"{build_dir} is a plain directory; it becomes {adopt_as}",
                    undo=(Step("put the current build back", argv=("mv", "-T", adopt_as, build_dir)),),
                ),
                *point(
                    build_dir,
                    back,
                    "link the current build",
                    undo=(Step("remove the link", argv=("rm", "-f", "--", build_dir)),),
                ),
            ]
        assert back is not None
        revert = (*point(build_dir, back, "point back at the previous build"), *restart_steps(host, load_timeout_s))
        steps += [
            *point(build_dir, new_target, SWITCH_TITLE, undo=revert),
            *restart_steps(host, load_timeout_s),
            *remember_previous(build_dir, back),
        ]
        notes.append(f"previous build kept for revert: {back}")
    else:
        notes.append("build only: the service keeps running the current binary")
    return Plan(
        action="rebuild",
        host=host.name,
        steps=tuple(steps),
        notes=tuple(notes),
        summary=f"{kind} of llama-server in {new_build_dir}" + (", switch and restart" if restart else ""),
    )


# -- gathering the facts on the host (async), then the same pure plan -------------------------
async def _stdout(transport: Transport, argv: list[str], timeout: float = 15.0) -> str | None:
    try:
        done = await transport.run(argv, timeout=timeout)
    except TransportError:
        return None
    return done.stdout.strip() if done.ok else None


async def prepare_rebuild(
    host: HostConfig,
    transport: Transport,
    client: Callable[[], Awaitable[LlamaClient]],
    *,
    restart: bool = True,
    arch_override: str | None = None,
    jobs: int | None = None,
    stamp: str | None = None,
    extra_cmake: tuple[str, ...] = (),
    nvcc: str | None = DEFAULT_NVCC,
) -> Plan:
    """Ask the host what the plan needs (compute_cap, served model's ftype, nproc, the unit's
    ExecStart, what build_dir is now) and build the plan. Changes nothing on the host."""
    require_unit(host, "the rebuild")
    local = host.transport == "local"
    src, build = remote_path(host.llama_cpp_dir, local=local), remote_path(host.build_dir, local=local)
    unit = await systemd.collect_unit(transport, host.unit)
    exec_start = await current_exec_start(transport, unit)
    compute_cap = ftype = None
    override = arch_override or host.cuda_arch
    if not override:
        caps = await _stdout(transport, ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"])
        compute_cap = caps.splitlines()[0].strip() if caps else None
        with contextlib.suppress(Exception):
            ftype = next((m.ftype for m in await (await client()).models() if m.ftype), None)
    arch, why = arch_for_host(compute_cap, ftype, override)
    if jobs is None:
        jobs = int(await _stdout(transport, ["nproc"]) or "2")
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    previous = await _stdout(transport, ["readlink", "--", build.rstrip("/")])
    return plan_rebuild(
        host,
        arch=arch,
        arch_reason=why,
        src_dir=src,
        build_dir=build,
        new_build_dir=sibling(build, f"build-{stamp}"),
        jobs=jobs,
        restart=restart,
        current_exec_start=exec_start,
        previous_target=previous or None,
        adopt_as=sibling(build, f"build-before-{stamp}"),
        extra_cmake=extra_cmake,
        nvcc=nvcc,
    )


async def rewrite_follow_up(transport: Transport, host: HostConfig, plan: Plan, result: PlanResult) -> Plan | None:
    """After a rebuild that failed only because the new binary renamed flags (and that was to switch):
    the plan that writes the rewritten ExecStart as a drop-in and switches. None otherwise."""
    if result.ok or result.rewritten_exec_start is None or result.failed_step is None:
        return None
    if not switches_build(plan):
        return None
    build = remote_path(host.build_dir, local=host.transport == "local")
    return await prepare_flag_rewrite(transport, host, plan, result.failed_step, result.rewritten_exec_start, build)


def commits_of(result: PlanResult) -> tuple[str | None, str | None]:
    """(HEAD before the pull, `%h %s` after it) as the plan's first and third steps printed them."""
    found = {step.title: step.detail or None for step in result.record.steps if step.status == "ok"}
    return found.get("current commit"), found.get("new commit")


def switches_build(plan: Plan) -> bool:
    """The plan switches the service to a new build (not build-only)."""
    return any(step.title == SWITCH_TITLE for step in plan.steps)
