"""Per-unit runtime state (state/units/<unit>.json), shared by systemctl and the supervisor under flock."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path

from .common import flocked, now_us, pid_alive, proc_cmdline, read_json, state_dir, write_json_atomic
from .unitfile import fingerprint, load_unit

SUPERVISOR_MODULE = "gb10dash.lab.shims.supervisor"

DEFAULTS: dict = {
    "config": None,  # loaded config (unit file + drop-ins as of the last daemon-reload / first load)
    "active_state": "inactive",
    "sub_state": "dead",
    "result": "success",
    "main_pid": 0,
    "supervisor_pid": 0,
    "start_token": "",
    "invocation_id": "",
    "exec_main_pid": 0,
    "exec_main_code": 0,
    "exec_main_status": 0,
    "exec_main_start": [0, 0],
    "exec_main_exit": [0, 0],  # [realtime µs, monotonic µs]
    "exec_argv": [],
    "exec_path": "",
    "exec_ignore_errors": False,
    "n_restarts": 0,
    "start_times": [],  # monotonic seconds of recent starts (StartLimit*)
    "ts": {},  # StateChange/InactiveExit/ActiveEnter/... → [rt, mono]
}


def unit_paths(unit: str, root: Path | None = None) -> dict[str, Path]:
    base = state_dir(root) / "units"
    base.mkdir(parents=True, exist_ok=True)
    return {
        "state": base / f"{unit}.json",
        "lock": base / f"{unit}.lock",
        "job": base / f"{unit}.job.lock",
        "log": base / f"{unit}.supervisor.log",
    }


def known_units(root: Path | None = None) -> list[str]:
    base = state_dir(root) / "units"
    return sorted(p.name[:-5] for p in base.glob("*.json")) if base.is_dir() else []


def _load(unit: str, root: Path | None) -> dict:
    state = copy.deepcopy(DEFAULTS)
    state.update(read_json(unit_paths(unit, root)["state"]) or {})
    return state


def read_state(unit: str, root: Path | None = None) -> dict:
    """Lock-free snapshot (writers replace the file atomically). Config is loaded from disk if never loaded."""
    state = _load(unit, root)
    if state["config"] is None:
        with locked_state(unit, root) as locked:
            state = copy.deepcopy(locked)
    return state


@contextlib.contextmanager
def locked_state(unit: str, root: Path | None = None) -> Iterator[dict]:
    paths = unit_paths(unit, root)
    with flocked(paths["lock"]):
        state = _load(unit, root)
        before = copy.deepcopy(state)
        if state["config"] is None:
            state["config"] = load_unit(unit, root)
        reconcile(state)
        yield state
        if state != before and (state["config"] or {}).get("load_state") != "not-found":
            write_json_atomic(paths["state"], state)


def supervisor_alive(pid: int) -> bool:
    return pid_alive(pid) and SUPERVISOR_MODULE in proc_cmdline(pid)


def reconcile(state: dict) -> None:
    """A supervisor that died without cleaning up (SIGKILL) leaves a unit that looks alive: fix that."""
    pid = state["supervisor_pid"]
    if pid and not supervisor_alive(pid):
        state["supervisor_pid"] = 0
        if not pid_alive(state["main_pid"]):
            state["main_pid"] = 0
            if state["active_state"] not in ("inactive", "failed"):
                set_active(state, "failed", "failed")
                if state["result"] == "success":
                    state["result"] = "signal"


def set_active(state: dict, active: str, sub: str) -> None:
    """Change ActiveState/SubState, keeping systemd's transition timestamps."""
    old = state["active_state"]
    if old != active:
        stamp = list(now_us())
        ts = state["ts"]
        ts["StateChange"] = stamp
        idle = ("inactive", "failed")
        if old in idle and active not in idle:
            ts["InactiveExit"] = stamp
        if active == "active":
            ts["ActiveEnter"] = stamp
        if old == "active":
            ts["ActiveExit"] = stamp
        if active in idle:
            ts["InactiveEnter"] = stamp
    state["active_state"], state["sub_state"] = active, sub


def need_daemon_reload(state: dict, unit: str, root: Path | None = None) -> bool:
    cfg = state["config"] or {}
    return bool(cfg) and cfg.get("fingerprint") != fingerprint(unit, root)


def daemon_reload(root: Path | None = None) -> None:
    for unit in known_units(root):
        with locked_state(unit, root) as state:
            state["config"] = load_unit(unit, root)


def record_start(state: dict, now: float) -> bool:
    """Count a start against StartLimitIntervalSec/StartLimitBurst; False when the limit is hit."""
    cfg = state["config"]
    interval, burst = cfg["start_limit_interval_sec"], cfg["start_limit_burst"]
    if not interval or not burst:
        return True
    recent = [t for t in state["start_times"] if now - t < interval]
    if len(recent) >= burst:
        state["start_times"] = recent
        return False
    state["start_times"] = recent + [now]
    return True
