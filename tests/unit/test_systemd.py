"""systemctl show parsing on our fixtures (active, failed, never started, odd forms)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gb10dash.collectors.systemd import (
    SYSTEMD_PROPERTIES,
    parse_exec_start,
    parse_systemctl_show,
    parse_timestamp,
    systemctl_show_argv,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "systemd"


def show(name: str):
    return parse_systemctl_show((FIX / name).read_text())


def test_argv_asks_for_every_property_with_unix_timestamps() -> None:
    argv = systemctl_show_argv("llama-server.service")
    assert argv == ["systemctl", "show", "llama-server.service", "--timestamp=unix", "-p", ",".join(SYSTEMD_PROPERTIES)]
    assert "ExecMainStartTimestamp" in argv[-1] and "DropInPaths" in argv[-1]


@pytest.mark.parametrize("bad", ["", "--all", "llama server"])
def test_argv_refuses_names_that_are_options_or_split(bad: str) -> None:
    with pytest.raises(ValueError, match="unit name"):
        systemctl_show_argv(bad)


def test_active_unit() -> None:
    st = show("show-active.txt")
    assert (st.active_state, st.sub_state, st.main_pid) == ("active", "running", 48213)
    assert st.is_running and not st.is_failed and not st.is_restarting
    assert st.started_at == 1788042587.0
    assert (st.n_restarts, st.result, st.exec_main_status) == (0, "success", 0)
    assert st.exec_start[0] == "/home/llm-agent/llama.cpp/build/bin/llama-server"
    assert "--no-mmap" in st.exec_start
    i = st.exec_start.index("-m")
    assert st.exec_start[i + 1] == "/mnt/models/gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4-00001-of-00003.gguf"
    assert st.exec_start[-2:] == ("--port", "8000")
    assert st.fragment_path == "/etc/systemd/system/llama-server.service"
    assert st.drop_in_paths == (
        "/etc/systemd/system/llama-server.service.d/10-model.conf",
        "/etc/systemd/system/llama-server.service.d/20-metrics.conf",
    )
    assert st.raw["MainPID"] == "48213"


def test_failed_unit() -> None:
    st = show("show-failed.txt")
    assert st.is_failed and not st.is_running
    assert st.main_pid is None  # MainPID=0
    assert (st.result, st.exec_main_status, st.n_restarts) == ("exit-code", 1, 5)
    assert st.started_at == pytest.approx(1788043012.417233)
    i = st.exec_start.index("--load-mode")
    assert st.exec_start[i + 1] == "none"
    assert "--no-mmap" not in st.exec_start
    assert st.drop_in_paths == ()


def test_never_started_unit_has_no_start_time() -> None:
    st = show("show-never-started.txt")
    assert (st.active_state, st.sub_state) == ("inactive", "dead")
    assert st.started_at is None and st.main_pid is None
    assert st.raw["ExecMainStartTimestamp"] == ""
    assert "--no-mmap" in st.exec_start


def test_auto_restart_is_neither_running_nor_failed() -> None:
    st = show("show-auto-restart.txt")
    assert st.is_restarting and not st.is_failed and not st.is_running
    assert st.exec_start == () and st.n_restarts == 3


def test_human_timestamps_and_unknown_keys() -> None:
    st = show("show-human-timestamps.txt")
    expected = datetime(2026, 10, 8, 22, 33, 44, tzinfo=UTC).timestamp()  # 23:33:44 CET
    assert st.started_at == expected
    assert st.raw["Environment"] == "LLAMA_ARG_FLASH_ATTN=on CUDA_VISIBLE_DEVICES=0"  # split at the first "="
    assert st.raw["Id"] == "llama-server.service"
    assert st.exec_start == (
        "/home/llm-agent/llama.cpp/build/bin/llama-server",
        "-m",
        "/mnt/models/Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf",
        "--port",
        "8000",
    )
    assert st.result is None and st.fragment_path is None  # suppressed properties


def test_several_exec_start_entries_pick_llama_server() -> None:
    st = show("show-multi-execstart.txt")
    assert len(st.exec_starts) == 2
    assert st.exec_starts[0] == ("/usr/bin/sleep", "1")
    assert st.exec_start == ("/opt/llama/bin/llama-server", "-m", "/mnt/models/a.gguf", "--port", "8000")


def test_only_the_first_block_counts() -> None:
    st = show("show-two-blocks.txt")
    assert st.is_running and st.main_pid == 48213


def test_malformed_lines_are_ignored() -> None:
    st = show("show-malformed.txt")
    assert st.is_running
    assert st.main_pid is None and st.n_restarts is None
    assert st.started_at is None  # IST is ambiguous
    assert st.exec_start == ()
    assert "child PID" not in st.raw


def test_not_found_unit_has_no_fragment() -> None:
    st = show("show-not-found.txt")
    assert st.fragment_path is None and st.exec_start == () and not st.is_running


def test_no_active_state_raises_clearly() -> None:
    with pytest.raises(ValueError, match="ActiveState"):
        show("show-no-bus.txt")
    with pytest.raises(ValueError, match="ActiveState"):
        parse_systemctl_show("")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("@1788042587", 1788042587.0),
        ("@1788042587.123456", 1788042587.123456),
        ("Thu 2026-10-08 23:33:44 UTC", datetime(2026, 10, 8, 23, 33, 44, tzinfo=UTC).timestamp()),
        ("Sun 2026-07-19 01:57:20 BST", datetime(2026, 7, 19, 0, 57, 20, tzinfo=UTC).timestamp()),
        ("Thu 2026-10-08 23:33:44 +0530", datetime(2026, 10, 8, 18, 3, 44, tzinfo=UTC).timestamp()),
        ("Thu 2026-10-08 23:33:44 XYZT", None),
        ("Thu 2026-10-08 23:33:44", None),
        ("n/a", None),
        ("", None),
        ("@0", None),
    ],
)
def test_timestamps(value: str, expected: float | None) -> None:
    assert parse_timestamp(value) == (pytest.approx(expected) if expected else expected)


def test_exec_start_plain_command_line_is_accepted() -> None:
    assert parse_exec_start("/bin/llama-server -m x.gguf") == (("/bin/llama-server", "-m", "x.gguf"),)
    assert parse_exec_start("{ path=/x ; broken") == ()
