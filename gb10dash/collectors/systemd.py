"""systemd unit status: the `systemctl show` command line and its parser (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from gb10dash.collectors.commands import run_checked
from gb10dash.transport.base import Transport

SYSTEMD_PROPERTIES = (
    "ActiveState",
    "SubState",
    "MainPID",
    "ExecMainStartTimestamp",
    "NRestarts",
    "Result",
    "ExecMainStatus",
    "ExecStart",
    "FragmentPath",
    "DropInPaths",
)

# Zone abbreviations with one unambiguous offset (hours). IST, CST, AST... are ambiguous: None.
_ZONE_OFFSETS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    "WEST": 1,
    "BST": 1,
    "CET": 1,
    "CEST": 2,
    "MET": 1,
    "MEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "JST": 9,
    "KST": 9,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "NZDT": 13,
    "EST": -5,
    "EDT": -4,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
_HUMAN_TS = re.compile(
    r"^(?:[A-Za-z]{3} )?(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?:\.(\d+))?(?: ([A-Za-z]+|[+-]\d{2}(?::?\d{2})?))?"
)
_UNIX_TS = re.compile(r"^@(\d+(?:\.\d+)?)$")
_EXEC_ENTRY = re.compile(r"\{\s*path=(?P<path>[^;]*?)\s*;\s*argv\[\]=(?P<argv>.*?)\s*;\s*(?:ignore_errors|flags)=")
_EMPTY = {"", "n/a", "[not set]", "(null)"}


def _validate_unit(unit: str) -> str:
    if not unit or unit.startswith("-") or any(c.isspace() for c in unit):
        raise ValueError(f"invalid systemd unit name: {unit!r}")
    return unit


def systemctl_show_argv(unit: str) -> list[str]:
    """argv for `systemctl show UNIT --timestamp=unix -p <SYSTEMD_PROPERTIES>`."""
    return ["systemctl", "show", _validate_unit(unit), "--timestamp=unix", "-p", ",".join(SYSTEMD_PROPERTIES)]


@dataclass(frozen=True)
class UnitStatus:
    active_state: str
    sub_state: str
    main_pid: int | None
    started_at: float | None
    n_restarts: int | None
    result: str | None
    exec_main_status: int | None
    exec_start: tuple[str, ...]
    fragment_path: str | None
    drop_in_paths: tuple[str, ...]
    raw: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), compare=False)
    exec_starts: tuple[tuple[str, ...], ...] = ()  # every ExecStart entry, in order
    watch_only: bool = False  # no unit: the state of the server process itself (collectors/server_process.py)

    @property
    def is_running(self) -> bool:
        return self.active_state == "active" and self.sub_state == "running"

    @property
    def is_failed(self) -> bool:
        return self.active_state == "failed"

    @property
    def is_restarting(self) -> bool:
        """Waiting for an automatic restart (Restart=on-failure and friends)."""
        return self.sub_state == "auto-restart"


def parse_timestamp(value: str) -> float | None:
    """Epoch seconds from `@N[.frac]` or `Thu 2026-10-08 23:33:44 UTC`; unknown zone or empty → None."""
    value = value.strip()
    if value.lower() in _EMPTY:
        return None
    m = _UNIX_TS.match(value)
    if m:
        secs = float(m.group(1))
        return secs if secs > 0 else None
    m = _HUMAN_TS.match(value)
    if not m or not m.group(3):
        return None
    try:
        naive = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    zone = m.group(3)
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
        offset = timedelta(minutes=minutes if zone[0] == "+" else -minutes)
    elif zone.upper() in _ZONE_OFFSETS:
        offset = timedelta(hours=_ZONE_OFFSETS[zone.upper()])
    else:
        return None
    frac = float("0." + m.group(2)) if m.group(2) else 0.0
    return naive.replace(tzinfo=timezone(offset)).timestamp() + frac


def parse_exec_start(value: str) -> tuple[tuple[str, ...], ...]:
    """All argv tuples in systemd's `{ path=… ; argv[]=… ; … }` form (plain command line also accepted)."""
    entries = [tuple(m.group("argv").split()) for m in _EXEC_ENTRY.finditer(value)]
    entries = [e for e in entries if e]
    if not entries and value.strip() and "{" not in value:
        entries = [tuple(value.split())]
    return tuple(entries)


def _pick_exec_start(entries: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    for argv in entries:
        if "llama-server" in argv[0].rsplit("/", 1)[-1]:
            return argv
    return entries[0] if entries else ()


def _int_or_none(value: str | None) -> int | None:
    if value is None or value.strip().lower() in _EMPTY:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _str_or_none(value: str | None) -> str | None:
    if value is None or value.strip().lower() in _EMPTY:
        return None
    return value.strip()


def _first_block(text: str) -> list[str]:
    block: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            if block:
                break
            continue
        block.append(line)
    return block


def parse_systemctl_show(text: str) -> UnitStatus:
    """Parse `systemctl show` KEY=VALUE output (first unit block only)."""
    raw: dict[str, str] = {}
    exec_lines: list[str] = []
    for line in _first_block(text):
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key):
            continue  # not a property line (e.g. a stray message)
        raw[key] = value
        if key == "ExecStart":
            exec_lines.append(value)
    if "ActiveState" not in raw:
        raise ValueError("systemctl show output has no ActiveState= line (is this `systemctl show` output?)")
    entries = tuple(e for v in exec_lines for e in parse_exec_start(v))
    main_pid = _int_or_none(raw.get("MainPID"))
    return UnitStatus(
        active_state=raw["ActiveState"].strip(),
        sub_state=raw.get("SubState", "").strip(),
        main_pid=main_pid or None,
        started_at=parse_timestamp(raw.get("ExecMainStartTimestamp", "")),
        n_restarts=_int_or_none(raw.get("NRestarts")),
        result=_str_or_none(raw.get("Result")),
        exec_main_status=_int_or_none(raw.get("ExecMainStatus")),
        exec_start=_pick_exec_start(entries),
        fragment_path=_str_or_none(raw.get("FragmentPath")),
        drop_in_paths=tuple(raw.get("DropInPaths", "").split()),
        raw=MappingProxyType(raw),
        exec_starts=entries,
    )


# What systemd (PID 1, or a user manager) logs when a unit changes state: "Starting/Started/Stopping/
# Stopped/Failed to start/Reloading/Reloaded <description>" and "<unit>: Main process exited, …",
# "<unit>: Failed with result …", "<unit>: Scheduled restart job …", "<unit>: Deactivated successfully."
_MANAGER_VERBS = re.compile(r"^(?:Starting|Started|Stopping|Stopped|Failed to start|Reloading|Reloaded|Killing) ")


def is_unit_event(message: str, pid: int | None, unit: str, entry_unit: str | None) -> bool:
    """True for a journal entry in which systemd reports a state change of `unit` (pure).

    `pid` and `entry_unit` are the entry's _PID and unit (UNIT= for systemd's own lines). A false
    positive costs one `systemctl show`; a miss is caught by the backstop poll."""
    if entry_unit != unit:
        return False
    if message.startswith(unit + ": "):
        return True  # "<unit>: Main process exited, …" and friends: only systemd writes these
    return pid == 1 and bool(_MANAGER_VERBS.match(message))


def is_transitional(unit: UnitStatus) -> bool:
    """A state systemd leaves by itself soon (start/stop in progress, waiting to restart)."""
    return unit.active_state in ("activating", "deactivating", "reloading") or unit.sub_state == "auto-restart"


# -- collector ------------------------------------------------------------------------------
async def collect_unit(transport: Transport, unit: str, *, timeout: float = 10.0) -> UnitStatus:
    """`systemctl show` of the unit, parsed."""
    return parse_systemctl_show(await run_checked(transport, systemctl_show_argv(unit), timeout=timeout))
