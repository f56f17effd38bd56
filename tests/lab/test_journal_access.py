"""A login outside the journal's groups: on a real host `journalctl -u` then prints none of a system
unit's lines — only a hint on stderr — and the log pane would stay empty forever. The monitor, the
log pane and `gb10dash status` say why, and the fix (real journald, real groups, over SSH)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from gb10dash.lab import Lab
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.widgets.log_pane import LogPane

from . import labctl
from .faultctl import monitor_for, running
from .labctl import until

HOST = "pegasus"
FIX = "add llm-agent to the group systemd-journal (sudo usermod -aG systemd-journal llm-agent"


@pytest.fixture
def outside_journal_groups(lab: Lab) -> Iterator[None]:
    if labctl.container(lab, HOST) is None:
        pytest.skip("the light lab's journal has no permissions to lose")
    done = labctl.shim(lab, HOST, "gpasswd", "-d", "llm-agent", "systemd-journal")
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        assert labctl.shim(lab, HOST, "gpasswd", "-a", "llm-agent", "systemd-journal").returncode == 0


async def test_the_monitor_the_pane_and_status_say_why_and_the_fix(lab: Lab, outside_journal_groups: None) -> None:
    env = dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))
    status = subprocess.run(
        [sys.executable, "-m", "gb10dash", "status", "--json", HOST],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    (host,) = json.loads(status.stdout)["hosts"]
    assert any(
        w.startswith("journal: llm-agent may not read the system journal") and FIX in w for w in host["warnings"]
    ), host["warnings"]
    text = subprocess.run(
        [sys.executable, "-m", "gb10dash", "status", HOST], env=env, capture_output=True, text=True, timeout=90
    )
    assert FIX in text.stdout, text.stdout

    monitor = monitor_for(lab, HOST)
    async with running(monitor):
        await until(lambda: monitor.journal_problem is not None, 30, "the journal problem")
        assert FIX in monitor.journal_problem and not monitor.log

    app = Gb10DashApp(labctl.config(lab), refresh_s=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        status_line = app.query_one(LogPane).query_one("#log-status")
        await until(lambda: FIX in str(status_line.render()), 30, "the log pane to say why")
        assert str(status_line.render()).startswith(f"{HOST}  ·  ✗ llm-agent may not read the system journal")
        await pilot.press("q")


async def test_with_the_group_back_the_log_follows_again(lab: Lab) -> None:
    monitor = monitor_for(lab, HOST)
    async with running(monitor):
        await until(lambda: monitor.log, 30, "journal lines")
        assert monitor.journal_problem is None
