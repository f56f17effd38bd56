"""`gb10dash sudoers`: the rules come from the plans' own sudo steps (forward and undo), exact, and
visudo (Debian's, for real) accepts the file."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from gb10dash.actions.plan import Plan, Step
from gb10dash.actions.sudoers import (
    DEBIAN_PATHS,
    needed_commands,
    parse_resolved,
    plans_needing_sudo,
    resolve_argv,
    sudo_commands,
    sudoers_rule,
    sudoers_text,
)
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import HostConfig

HOST = HostConfig(
    name="stella",
    api_url="http://127.0.0.1:8080",
    model_path="/mnt/models/a.gguf",
    ctx=4096,
    unit="llama-server.service",
)


def unit(fragment: str) -> UnitStatus:
    return UnitStatus(
        active_state="active",
        sub_state="running",
        main_pid=7,
        started_at=None,
        n_restarts=0,
        result="success",
        exec_main_status=None,
        exec_start=("llama-server",),
        fragment_path=fragment,
        drop_in_paths=(),
    )


def test_commands_are_collected_from_forward_and_undo_steps_once_each() -> None:
    undo = (Step("put back", argv=("sudo", "-n", "tee", "/x")), Step("again", argv=("sudo", "-n", "rm", "-f", "/x")))
    plan = Plan(
        action="t",
        host="h",
        summary="",
        steps=(
            Step("plain", argv=("rm", "-f", "/y")),
            Step("write", argv=("sudo", "-n", "tee", "/x"), undo=undo),
            Step("write again", argv=("sudo", "-n", "tee", "/x")),
        ),
    )
    assert sudo_commands([plan]) == [("tee", "/x"), ("rm", "-f", "/x")]


def test_every_plan_that_runs_sudo_is_covered_for_the_units_drop_in_directory() -> None:
    actions = {p.action for p in plans_needing_sudo(HOST, unit("/etc/systemd/system/llama-server.service"))}
    assert {"restart", "swap", "revert-build", "drop-caches"} <= actions
    dropin = "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"
    assert set(needed_commands(HOST, unit("/etc/systemd/system/llama-server.service"))) == {
        ("systemctl", "restart", "llama-server.service"),
        ("systemctl", "daemon-reload"),
        ("systemctl", "reset-failed", "llama-server.service"),
        ("mkdir", "-p", "/etc/systemd/system/llama-server.service.d"),
        ("tee", dropin),
        ("rm", "-f", dropin),
        ("sysctl", "vm.drop_caches=3"),
    }


def test_a_vendor_unit_gets_its_drop_in_under_etc() -> None:
    commands = needed_commands(HOST, unit("/usr/lib/systemd/system/llama-server.service"))
    assert ("tee", "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf") in commands
    assert not any(w.startswith("/usr/lib") for argv in commands for w in argv)


def test_arguments_are_escaped_and_odd_ones_refused() -> None:
    text = sudoers_text("llm-agent", [("sysctl", "vm.drop_caches=3"), ("tee", "/etc/a,b:c*.conf")], DEBIAN_PATHS)
    assert "/usr/sbin/sysctl vm.drop_caches\\=3" in text and "/usr/bin/tee /etc/a\\,b\\:c\\*.conf" in text
    with pytest.raises(ValueError, match="whitespace"):
        sudoers_text("llm-agent", [("tee", "/etc/a b.conf")], DEBIAN_PATHS)
    with pytest.raises(ValueError, match="where frobnicate is on stella is not known"):
        sudoers_text("llm-agent", [("frobnicate",)], DEBIAN_PATHS, host="stella")


@pytest.mark.skipif(shutil.which("visudo") is None, reason="visudo not installed (apt-get install sudo)")
def test_visudo_accepts_the_generated_file(tmp_path: Path) -> None:
    text = sudoers_text(
        "llm-agent",
        needed_commands(HOST, unit("/etc/systemd/system/llama-server.service")),
        DEBIAN_PATHS,
        host="stella",
    )
    (tmp_path / "gb10dash").write_text(text)
    checked = subprocess.run(["visudo", "-cf", str(tmp_path / "gb10dash")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = text.replace("NOPASSWD:", "NOPASSWD")
    (tmp_path / "broken").write_text(broken)  # the check can fail: a damaged file is refused
    assert subprocess.run(["visudo", "-cf", str(tmp_path / "broken")], capture_output=True, timeout=30).returncode != 0


def test_where_sudo_finds_each_command_is_asked_of_the_host() -> None:
    names = ["systemctl", "no-such-command-here"]
    done = subprocess.run(resolve_argv(names), capture_output=True, text=True, timeout=30)
    paths = parse_resolved(names, done.stdout)
    assert paths["systemctl"].endswith("/systemctl") and "no-such-command-here" not in paths
    with pytest.raises(ValueError, match="expected 2 path"):
        parse_resolved(names, "/usr/bin/systemctl\n")


def test_the_password_hint_names_the_rule_the_refused_step_needs() -> None:
    rule = sudoers_rule("llm-agent", ("sudo", "-n", "systemctl", "restart", "llama-server.service"))
    assert rule == "llm-agent ALL=(root) NOPASSWD: /usr/bin/systemctl restart llama-server.service"


def test_a_watch_only_host_needs_only_drop_caches() -> None:
    import dataclasses

    watch_only = dataclasses.replace(HOST, unit="")
    assert [p.action for p in plans_needing_sudo(watch_only, None)] == ["drop-caches"]
    assert needed_commands(watch_only, None) == [("sysctl", "vm.drop_caches=3")]
