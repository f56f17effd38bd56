"""Small pure formatters shared by the text views: None is shown as "–", never 0."""

from __future__ import annotations

import time

DASH = "–"


def number(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return DASH
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def bytes_kib(kib: int | float | None) -> str:
    if kib is None:
        return DASH
    value = float(kib)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "KiB" else f"{int(value)} KiB"
        value /= 1024
    return DASH


def duration(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return DASH
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def coarse_duration(seconds: float | None) -> str:
    """An age or uptime an operator reads at a glance, changing at most every 5 s: "now" under 5 s,
    5-second steps under a minute, whole minutes under an hour, then as duration() (h+m). The
    dashboard redraws a text only when it changes: second-resolution ages redrew every panel every
    second (bench/RESULTS.md)."""
    if seconds is None or seconds < 0:
        return DASH
    if seconds < 5:
        return "now"
    if seconds < 60:
        return f"{int(seconds) // 5 * 5}s"
    if seconds < 3600:
        return f"{int(seconds) // 60}m"
    return duration(seconds)


def bytes_count(count: int | float | None) -> str:
    """A size in bytes, shown like bytes_kib (`59.0 GiB`)."""
    return DASH if count is None else bytes_kib(count / 1024)


def mib(value: int | float | None) -> str:
    """A MiB figure (nvidia-smi's unit), shown like bytes_kib."""
    return DASH if value is None else bytes_kib(value * 1024)


def percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{fraction * 100:.0f}%"


def clock(epoch: float | None, *, seconds: bool = True) -> str:
    """Local wall-clock time `HH:MM:SS` (or `HH:MM`) of an epoch timestamp."""
    if epoch is None:
        return DASH
    return time.strftime("%H:%M:%S" if seconds else "%H:%M", time.localtime(epoch))


def iso_utc(epoch: float | None) -> str | None:
    """`2026-11-25T10:15:02Z`, or None (for JSON documents)."""
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
