"""The fail-fast wait's judgement on `systemctl show` recorded from systemd 252 on the real-hosts lab:
a server killed and restarted by systemd, the unit after an operator's restart, the auto-restart loop
of a model that fails to load, the start limit hit."""

from __future__ import annotations

from pathlib import Path

from gb10dash.actions.startup import journal_reason, startup_failure
from gb10dash.collectors.systemd import parse_systemctl_show

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "systemd"


def show(name: str):
    return parse_systemctl_show((FIX / name).read_text())


def test_a_manual_restart_starts_counting_afresh_and_a_loading_server_is_left_alone() -> None:
    unit = show("recorded-after-manual-restart.txt")
    assert unit.is_running and unit.n_restarts == 0  # systemd resets NRestarts on an explicit restart
    assert startup_failure(unit, None) is None
    assert startup_failure(unit, unit.main_pid) is None


def test_a_server_systemd_restarted_is_not_the_one_the_plan_started() -> None:
    unit = show("recorded-restarted-by-systemd.txt")
    assert unit.is_running and unit.n_restarts == 1
    assert startup_failure(unit, None) == (
        "the server exited and systemd restarted it once: the process the plan started is gone"
    )


def test_the_auto_restart_loop_fails_the_wait_at_once() -> None:
    unit = show("recorded-auto-restart.txt")
    assert unit.sub_state == "auto-restart"
    said = startup_failure(unit, 1234)
    assert said is not None and said.startswith("the server exited (exit status 1) and systemd is restarting it")


def test_the_start_limit_fails_the_wait() -> None:
    """An automatic restart that hits the start limit leaves Result at the last failure's (exit-code),
    not start-limit-hit (that one is a start the operator asked for); failed either way."""
    unit = show("recorded-start-limit-hit.txt")
    assert unit.is_failed and unit.result == "exit-code" and unit.n_restarts == 5
    assert startup_failure(unit, None) == "the service failed while starting (exit-code, exit status 1)"


def test_another_main_pid_means_the_started_process_is_gone() -> None:
    unit = show("recorded-after-manual-restart.txt")
    assert startup_failure(unit, unit.main_pid + 1) == (
        f"the process the restart started (pid {unit.main_pid + 1}) is gone (MainPID now {unit.main_pid})"
    )


def test_the_journal_reason_is_the_servers_own_error_not_systemds_summary() -> None:
    # recorded: `journalctl -u llama-server -o cat` on the real-hosts lab, the corrupt GGUF at the start limit
    lines = [
        "0.00.004.885 E llama_model_load_from_file_impl: failed to load model",
        "0.00.004.886 E cmn  common_init_: failed to load model '/mnt/models/broken-GGUF/corrupt.gguf'",
        "0.00.004.887 E srv    load_model: failed to load model, '/mnt/models/broken-GGUF/corrupt.gguf'",
        "0.00.004.888 I srv    operator(): operator(): cleaning up before exit...",
        "0.00.005.265 E srv  llama_server: exiting due to model loading error",
        "llama-server.service: Main process exited, code=exited, status=1/FAILURE",
        "llama-server.service: Failed with result 'exit-code'.",
        "llama-server.service: Start request repeated too quickly.",
        "Failed to start llama-server.service - llama.cpp server (stella, gb10dash lab).",
    ]
    assert journal_reason(lines) == lines[2]  # the line that names the model, not the generic "exiting"
    assert journal_reason([lines[4]]) == lines[4]
    assert (
        journal_reason(["gguf_init_from_file_impl: failed to read magic", "main: bye"])
        == "gguf_init_from_file_impl: failed to read magic"
    )  # an older build's log, without levels
    assert journal_reason(["all is well", "llama-server.service: Failed with result 'exit-code'."]) is None
