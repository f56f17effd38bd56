"""systemctl shim: start|stop|restart|kill|daemon-reload|reset-failed|is-active|is-failed|is-enabled|status|show|cat.

Usage: python -m gb10dash.lab.shims.systemctl [OPTIONS] VERB [UNIT...]
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import time
import uuid
from pathlib import Path

from .common import flocked, lab_root, pid_alive, run_main
from .journal import Journal, systemd_fields
from .show import properties, render
from .status import render_status
from .unitfile import unit_files, unit_name
from .unitstate import (
    SUPERVISOR_MODULE,
    daemon_reload,
    locked_state,
    need_daemon_reload,
    read_state,
    record_start,
    set_active,
    supervisor_alive,
    unit_paths,
)

FLAGS = {"--no-pager", "--no-legend", "--no-ask-password", "--plain", "--full", "-l", "--system", "--no-block"}
START_WAIT_S = 15.0


class Options:
    def __init__(self) -> None:
        self.props: list[str] = []
        self.value = self.all = self.quiet = False
        self.style, self.lines, self.signal = "pretty", 10, "SIGTERM"
        self.args: list[str] = []


def parse(argv: list[str]) -> Options:
    opts, it = Options(), iter(argv)
    for arg in it:
        if arg in FLAGS:
            continue
        key, eq, val = arg.partition("=")
        if arg in ("-p", "--property", "-P"):
            opts.props += next(it, "").split(",")
            opts.value = opts.value or arg == "-P"
        elif (key == "--property" and eq) or (arg.startswith("-p") and len(arg) > 2):
            opts.props += (val if eq else arg[2:]).split(",")
        elif arg == "--value":
            opts.value = True
        elif arg in ("-a", "--all"):
            opts.all = True
        elif arg in ("-q", "--quiet"):
            opts.quiet = True
        elif key == "--timestamp":
            opts.style = val if eq else next(it, "pretty")
        elif arg in ("-n", "--lines") or key == "--lines":
            opts.lines = int(val if eq else next(it, "10"))
        elif arg in ("-s", "--signal") or key == "--signal":
            opts.signal = val if eq else next(it, "SIGTERM")
        elif arg.startswith("-") and arg != "-":
            raise SystemExit(_fail(f"systemctl: unrecognized option '{arg}'", 1))
        else:
            opts.args.append(arg)
    opts.props = [p for p in opts.props if p]
    return opts


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def _warn_changed(unit: str, state: dict, root: Path) -> None:
    if need_daemon_reload(state, unit, root):
        print(
            f"Warning: The unit file, source configuration file or drop-ins of {unit} changed on disk. "
            "Run 'systemctl daemon-reload' to reload units.",
            file=sys.stderr,
        )


def spawn_supervisor(unit: str, log_path: Path) -> None:
    """Double fork + setsid: the supervisor outlives this process and the ssh session that ran it."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork():
                os._exit(0)
            devnull = os.open(os.devnull, os.O_RDWR)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(devnull, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            os.execv(sys.executable, [sys.executable, "-m", SUPERVISOR_MODULE, unit])
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


def _kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start(unit: str, root: Path, verb: str = "start") -> int:
    with locked_state(unit, root) as state:
        cfg = state["config"]
        if cfg["load_state"] == "not-found":
            return _fail(f"Failed to {verb} {unit}: Unit {unit} not found.", 5)
        _warn_changed(unit, state, root)
        if cfg["load_state"] != "loaded":
            return _fail(
                f"Failed to {verb} {unit}: Unit {unit} has a bad unit file setting.\n"
                f"See system logs and 'systemctl status {unit}' for details.",
                1,
            )
        if supervisor_alive(state["supervisor_pid"]):
            return 0
        if pid_alive(state["main_pid"]):  # orphan of a supervisor that was SIGKILLed
            _kill_group(state["main_pid"], signal.SIGKILL)
        if not record_start(state, time.monotonic()):
            if state["result"] == "success":
                state["result"] = "start-limit-hit"
            set_active(state, "failed", "failed")
            journal, name = Journal(root), f"{unit} - {cfg['description']}"
            journal.append(
                [
                    systemd_fields(unit, f"{unit}: Start request repeated too quickly.", 4),
                    systemd_fields(unit, f"{unit}: Failed with result '{state['result']}'.", 4),
                    systemd_fields(unit, f"Failed to start {name}.", 3, extra={"JOB_RESULT": "failed"}),
                ]
            )
            return _fail(
                f"Job for {unit} failed because start of the service was attempted too often.\n"
                f'See "systemctl status {unit}" and "journalctl -xeu {unit}" for details.\n'
                f'To force a start use "systemctl reset-failed {unit}" followed by '
                f'"systemctl start {unit}" again.',
                1,
            )
        token = uuid.uuid4().hex
        state.update(
            start_token=token,
            invocation_id=uuid.uuid4().hex,
            result="success",
            n_restarts=0,
            supervisor_pid=0,
            main_pid=0,
        )
        set_active(state, "activating", "start")
    spawn_supervisor(unit, unit_paths(unit, root)["log"])
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        state = read_state(unit, root)
        if state["start_token"] == token and (state["main_pid"] or state["sub_state"] != "start"):
            return 0
        time.sleep(0.02)
    return _fail(
        f"Job for {unit} failed (lab supervisor did not report a main PID; see {unit_paths(unit, root)['log']}).", 1
    )


def stop(unit: str, root: Path, verb: str = "stop") -> int:
    with locked_state(unit, root) as state:
        if state["config"]["load_state"] == "not-found":
            return _fail(f"Failed to {verb} {unit}: Unit {unit} not loaded.", 5)
        if verb == "stop":
            _warn_changed(unit, state, root)
        sup, main, timeout = state["supervisor_pid"], state["main_pid"], state["config"]["timeout_stop_sec"]
    if supervisor_alive(sup):
        os.kill(sup, signal.SIGTERM)
        deadline = time.monotonic() + (timeout if timeout is not None else 90) + 15
        while supervisor_alive(sup) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not supervisor_alive(sup):
            return 0
        os.kill(sup, signal.SIGKILL)
    if main and pid_alive(main):
        _kill_group(main, signal.SIGKILL)
    with locked_state(unit, root) as state:
        state.update(main_pid=0, supervisor_pid=0)
        if state["active_state"] != "failed":
            set_active(state, "inactive", "dead")
    return 0


def kill(unit: str, root: Path, signame: str) -> int:
    state = read_state(unit, root)
    sig = (
        signal.Signals[signame if signame.startswith("SIG") else "SIG" + signame]
        if not signame.isdigit()
        else signal.Signals(int(signame))
    )
    if not pid_alive(state["main_pid"]):
        return _fail(f"Failed to kill unit {unit}: No main process to kill", 1)
    _kill_group(state["main_pid"], sig)
    return 0


def simple_verb(verb: str, unit: str, root: Path, opts: Options) -> int:
    state = read_state(unit, root)
    cfg, active = state["config"], state["active_state"]
    if verb in ("is-active", "is-failed"):
        shown = "inactive" if cfg["load_state"] == "not-found" else active
        if not opts.quiet:
            print(shown)
        return 0 if shown == ("active" if verb == "is-active" else "failed") else 3
    if verb == "is-enabled":
        if cfg["load_state"] == "not-found":
            return _fail(f"Failed to get unit file state for {unit}: No such file or directory", 1)
        if not opts.quiet:
            print("enabled")
        return 0
    if verb == "reset-failed":
        with locked_state(unit, root) as locked:
            locked["start_times"] = []
            if locked["active_state"] == "failed":
                locked["result"] = "success"
                set_active(locked, "inactive", "dead")
        return 0
    if verb == "cat":
        fragment, dropins = unit_files(unit, root)
        if not fragment.is_file():
            return _fail(f"No files found for {unit}.", 1)
        if need_daemon_reload(state, unit, root):
            print(
                f"# Warning: {unit} changed on disk, the version systemd has loaded is outdated.\n"
                "# This output shows the current version of the unit's original fragment and drop-in files.\n"
                "# If fragments or drop-ins were added or removed, they are not properly reflected in this output.\n"
                "# Run 'systemctl daemon-reload' to reload units."
            )
        print("\n\n".join(f"# {p}\n{p.read_text().rstrip(chr(10))}" for p in [fragment, *dropins]))
        return 0
    if verb == "status":
        if cfg["load_state"] == "not-found":
            return _fail(f"Unit {unit} could not be found.", 4)
        _warn_changed(unit, state, root)
        print(render_status(unit, state, root, opts.lines))
        return 0 if active == "active" else 3
    raise AssertionError(verb)


def main(argv: list[str]) -> int:
    opts = parse(argv)
    if not opts.args:
        return _fail("systemctl (gb10dash lab shim): missing verb", 1)
    verb, units = opts.args[0], [unit_name(u) for u in opts.args[1:]]
    root = lab_root()
    if verb == "daemon-reload":
        daemon_reload(root)
        return 0
    if verb == "show":
        blocks = []
        for unit in units:
            state = read_state(unit, root)
            blocks.append(
                "\n".join(render(properties(unit, state, root, opts.style), opts.props, opts.value, opts.all))
            )
        if blocks:
            print("\n\n".join(blocks))
        return 0
    if not units:
        return _fail("Too few arguments.", 1)
    rcs: list[int] = []
    for unit in units:
        if verb in ("start", "stop", "restart", "try-restart"):
            with flocked(unit_paths(unit, root)["job"]):
                if verb == "start":
                    rc = start(unit, root)
                elif verb == "stop":
                    rc = stop(unit, root)
                elif verb == "try-restart" and read_state(unit, root)["active_state"] != "active":
                    rc = 0
                else:
                    rc = stop(unit, root, "restart")
                    rc = rc or start(unit, root, "restart")
        elif verb == "kill":
            rc = kill(unit, root, opts.signal)
        elif verb in ("is-active", "is-failed", "is-enabled", "reset-failed", "status", "cat"):
            rc = simple_verb(verb, unit, root, opts)
        else:
            return _fail(f"Unknown command verb '{verb}'.", 1)
        rcs.append(rc)
    if verb in ("is-active", "is-failed"):  # 0 when at least one unit is in the asked-for state
        return 0 if 0 in rcs else 3
    return next((rc for rc in rcs if rc), 0)


if __name__ == "__main__":
    run_main(main)
