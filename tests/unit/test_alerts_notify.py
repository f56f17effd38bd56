"""The notify command: argv (no shell), the event as JSON on stdin, bounded time, failures worded."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import psutil
from alert_states import T0, healthy, unit

from gb10dash.alerts import AlertEngine
from gb10dash.alerts.notify import Notifier


def event():
    e = AlertEngine()
    e.evaluate(healthy(T0, unit=unit(active_state="failed", sub_state="failed")))
    [raised] = e.evaluate(healthy(T0 + 60, unit=unit(active_state="failed", sub_state="failed")))
    return raised


async def test_the_command_reads_the_alert_as_json_on_stdin_and_its_arguments_are_not_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "got.json"
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_text(sys.stdin.read() + sys.argv[2])"
    assert await Notifier([sys.executable, "-c", script, str(out), "$(touch x); `id`"]).send(event()) is None
    text = out.read_text()
    doc = json.loads(text[: text.rindex("}") + 1])
    assert doc["schema"] == "gb10dash.alert/1" and doc["event"] == "raised" and doc["rule"] == "unit"
    assert text.endswith("$(touch x); `id`") and not (tmp_path / "x").exists()


async def test_failures_are_returned_worded_not_raised() -> None:
    missing = await Notifier(["/nonexistent/page-me"]).send(event())
    assert missing == "notify: cannot run /nonexistent/page-me: No such file or directory"
    failing = [
        sys.executable,
        "-c",
        (
            "import sys; sys.stdin.read(); print('x' * 100000, file=sys.stderr);"
            " print('no route to pager', file=sys.stderr); sys.exit(3)"
        ),
    ]
    assert await Notifier(failing).send(event()) == "notify: python3 exited 3: no route to pager".replace(
        "python3", Path(sys.executable).name
    )
    assert await Notifier([]).send(event()) is None


async def test_a_command_killed_by_a_signal_is_worded_so() -> None:
    suicide = [sys.executable, "-c", "import os, signal, sys; sys.stdin.read(); os.kill(os.getpid(), signal.SIGTERM)"]
    got = await Notifier(suicide).send(event())
    assert got == f"notify: {Path(sys.executable).name} killed by signal 15"


async def test_a_hanging_command_and_its_children_are_killed_after_the_timeout() -> None:
    hang = [
        sys.executable,
        "-c",
        (
            "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(60)']); time.sleep(60)"
        ),
    ]
    before = {p.pid for p in psutil.process_iter()}
    t0 = time.monotonic()
    result = await Notifier(hang, timeout_s=1.0).send(event())
    took = time.monotonic() - t0
    assert result == f"notify: {Path(sys.executable).name} did not finish within 1 s (killed)"
    assert took < 10, took
    deadline = time.monotonic() + 5
    while True:
        left = [
            p
            for p in psutil.process_iter(["cmdline"])
            if p.pid not in before and "time.sleep(60)" in " ".join(p.info["cmdline"] or [])
        ]
        if not left or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert left == []
