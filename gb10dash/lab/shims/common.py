"""Shared plumbing of the lab shims: the host root, locks, atomic JSON state, /proc helpers, time formats."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT_ENV = "GB10LAB_ROOT"


class LabError(Exception):
    """A problem with the lab itself (not something the real tool would print)."""


def lab_root() -> Path:
    value = os.environ.get(ROOT_ENV, "")
    if not value:
        raise LabError(
            f"{ROOT_ENV} is not set: the gb10dash lab shims need it to point at the lab host's root directory"
        )
    root = Path(value)
    if not root.is_dir():
        raise LabError(f"{ROOT_ENV}={value} is not a directory")
    return root


def state_dir(root: Path | None = None) -> Path:
    path = (root or lab_root()) / "state"
    path.mkdir(parents=True, exist_ok=True)
    return path


def unit_dir(root: Path | None = None) -> Path:
    return (root or lab_root()) / "etc" / "systemd" / "system"


def run_main(main, argv: list[str] | None = None) -> None:
    """Run a shim's main(argv) -> int, turning LabError into a clear message and exit 1."""
    try:
        code = main(sys.argv[1:] if argv is None else argv)
    except LabError as exc:
        print(f"gb10dash lab shim: {exc}", file=sys.stderr)
        code = 1
    sys.stdout.flush()
    raise SystemExit(code)


@contextlib.contextmanager
def flocked(path: Path) -> Iterator[None]:
    """Exclusive flock on `path` (created if missing) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


# --- processes ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """True if pid exists and is not a zombie (reparented zombies may linger when PID 1 does not reap)."""
    if pid <= 0:
        return False
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def proc_cpu_seconds(pid: int) -> float | None:
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def proc_comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def proc_exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def proc_status_kib(pid: int, key: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


# --- host identity -----------------------------------------------------------------------------


def hostname(root: Path | None = None) -> str:
    """The lab host's name: $GB10LAB_ROOT/etc/hostname when present, else the machine's."""
    try:
        name = ((root or lab_root()) / "etc" / "hostname").read_text().strip()
    except (OSError, LabError):
        name = ""
    return name or socket.gethostname()


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    except OSError:
        return uuid.UUID(int=0).hex


def machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError):
            value = Path(path).read_text().strip()
            if value:
                return value
    return uuid.uuid5(uuid.NAMESPACE_DNS, socket.gethostname()).hex


# --- time --------------------------------------------------------------------------------------


def now_us() -> tuple[int, int]:
    """(realtime µs, monotonic µs) — CLOCK_MONOTONIC is system-wide, like systemd's."""
    return time.time_ns() // 1000, time.monotonic_ns() // 1000


def format_timestamp(usec: int, style: str = "pretty") -> str:
    """systemd's timestamp styles: pretty `Thu 2026-10-08 23:33:44 UTC`, unix `@1788042587`, us, utc, us+utc."""
    if usec <= 0:
        return ""
    if style == "unix":
        return f"@{usec // 1_000_000}"
    secs = usec / 1_000_000
    utc = style in ("utc", "us+utc")
    tm = time.gmtime(secs) if utc else time.localtime(secs)
    zone = "UTC" if utc else time.strftime("%Z", tm)
    frac = f".{usec % 1_000_000:06d}" if style in ("us", "us+utc") else ""
    return time.strftime("%a %Y-%m-%d %H:%M:%S", tm) + frac + f" {zone}"


def format_timespan(usec: float | None) -> str:
    """systemd's format_timespan for whole values: `100ms`, `10s`, `1min 30s`, `infinity`, `0`."""
    if usec is None:
        return "infinity"
    usec = int(usec)
    if usec == 0:
        return "0"
    parts = []
    for name, size in (
        ("y", 31_557_600_000_000),
        ("month", 2_629_800_000_000),
        ("w", 604_800_000_000),
        ("d", 86_400_000_000),
        ("h", 3_600_000_000),
        ("min", 60_000_000),
        ("s", 1_000_000),
        ("ms", 1000),
        ("us", 1),
    ):
        if usec >= size:
            parts.append(f"{usec // size}{name}")
            usec %= size
    return " ".join(parts)


def parse_timespan(text: str, default_unit: float = 1.0) -> float | None:
    """systemd time span (`100ms`, `5s`, `1min 30s`, `2`, `infinity`) → seconds (None = infinity)."""
    text = text.strip()
    if text == "infinity":
        return None
    units = {
        "us": 1e-6,
        "usec": 1e-6,
        "ms": 1e-3,
        "msec": 1e-3,
        "s": 1,
        "sec": 1,
        "second": 1,
        "seconds": 1,
        "m": 60,
        "min": 60,
        "minute": 60,
        "minutes": 60,
        "h": 3600,
        "hr": 3600,
        "hour": 3600,
        "hours": 3600,
        "d": 86400,
        "day": 86400,
        "days": 86400,
    }
    total, number, word = 0.0, "", ""
    for ch in text + " ":
        if ch.isdigit() or ch == ".":
            if word:
                total += float(number) * units[word]
                number, word = "", ""
            number += ch
        elif ch.isalpha():
            word += ch
        elif number:
            if word and word not in units:
                raise ValueError(f"bad time span {text!r}")
            total += float(number) * (units[word] if word else default_unit)
            number, word = "", ""
    return total
