"""The ledger's rows grouped for people: by host, model, day and/or hour (local time), with totals (pure)."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gb10dash.ledger.store import HourUsage

KEYS = ("host", "model", "day", "hour")
DEFAULT_BY = ("host", "model")
_SPAN = re.compile(r"^(\d+)\s*([mhdw])$")
_SPAN_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True)
class UsageRow:
    key: tuple[str, ...]  # one value per grouping key, in the order asked
    prompt_tokens: int
    generated_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.generated_tokens


def parse_by(text: str) -> tuple[str, ...]:
    """'host,day' → ('host', 'day'); ValueError naming the keys there are."""
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in keys if k not in KEYS]
    if not keys or unknown:
        raise ValueError(f"--by {text!r}: expected one or more of {', '.join(KEYS)}, comma-separated")
    if len(set(keys)) != len(keys):
        raise ValueError(f"--by {text!r}: a key is named twice")
    return keys


def parse_since(text: str, now: float) -> float:
    """'7d' / '24h' / '90m' / '2w' before now, or a local date 'YYYY-MM-DD' (from its midnight)."""
    span = _SPAN.match(text.strip())
    if span:
        return now - int(span.group(1)) * _SPAN_S[span.group(2)]
    try:
        return time.mktime(time.strptime(text.strip(), "%Y-%m-%d"))
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a span (e.g. 90m, 24h, 7d, 2w) or a date (YYYY-MM-DD)") from None


def _value(hour: HourUsage, key: str) -> str:
    if key == "day":
        return time.strftime("%Y-%m-%d", time.localtime(hour.hour))
    if key == "hour":
        return time.strftime("%Y-%m-%d %H:00", time.localtime(hour.hour))
    return hour.host if key == "host" else (hour.model or "(unknown model)")


def grouped(hours: Sequence[HourUsage], by: Sequence[str]) -> list[UsageRow]:
    """One row per distinct key, sorted by it (days and hours in time order)."""
    sums: dict[tuple[str, ...], list[int]] = {}
    for hour in hours:
        key = tuple(_value(hour, k) for k in by)
        total = sums.setdefault(key, [0, 0])
        total[0] += hour.prompt_tokens
        total[1] += hour.generated_tokens
    return [UsageRow(key, p, g) for key, (p, g) in sorted(sums.items())]


def totals(rows: Sequence[UsageRow]) -> UsageRow:
    return UsageRow((), sum(r.prompt_tokens for r in rows), sum(r.generated_tokens for r in rows))


def text_table(rows: Sequence[UsageRow], by: Sequence[str]) -> str:
    """Columns: the keys, then prompt, generated and total tokens (right-aligned); a total line last."""
    header = [*by, "prompt tokens", "generated tokens", "total"]
    body = [[*r.key, f"{r.prompt_tokens:,}", f"{r.generated_tokens:,}", f"{r.total:,}"] for r in rows]
    total = totals(rows)
    footer = [
        "total",
        *[""] * (len(by) - 1),
        f"{total.prompt_tokens:,}",
        f"{total.generated_tokens:,}",
        f"{total.total:,}",
    ]
    widths = [max(len(line[i]) for line in [header, *body, footer]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        keys = [c.ljust(w) for c, w in zip(cells[: len(by)], widths)]
        numbers = [c.rjust(w) for c, w in zip(cells[len(by) :], widths[len(by) :])]
        return "  ".join(keys + numbers).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(b) for b in body), rule, line(footer)])


@dataclass(frozen=True, slots=True)
class LedgerView:
    """What the dashboard's ledger view shows: per day (7 days) and per hour (24 h), each by host and model."""

    days: tuple[UsageRow, ...]
    hours: tuple[UsageRow, ...]
    note: str  # where the ledger is, or why there is nothing to show


VIEW_DAYS, VIEW_HOURS = 7, 24


def ledger_view(hours: Sequence[HourUsage], now: float, note: str) -> LedgerView:
    """The rows of `hours` by day, and of the last VIEW_HOURS by hour: newest first, hosts in order."""
    recent = [h for h in hours if h.hour + 3600 > now - VIEW_HOURS * 3600]

    def newest_first(rows: list[UsageRow]) -> tuple[UsageRow, ...]:
        return tuple(sorted(rows, key=lambda r: r.key[0], reverse=True))  # stable: hosts stay in order

    return LedgerView(
        newest_first(grouped(hours, ("day", "host", "model"))),
        newest_first(grouped(recent, ("hour", "host", "model"))),
        note,
    )
