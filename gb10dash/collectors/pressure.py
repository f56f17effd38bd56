"""/proc/pressure/memory (PSI) parser (pure) and reader: how much of the time tasks stalled waiting for
memory. `some`: at least one task stalled; `full`: every non-idle task at once. avg10/60/300 are percent
of wall time over 10 s, 60 s and 5 min; total is microseconds of stall since boot. A GB10 running out of
unified memory shows here (reclaim, swapping, compaction) before the OOM killer acts."""

from __future__ import annotations

from dataclasses import dataclass

from gb10dash.collectors.commands import read_text
from gb10dash.transport.base import Transport

PATH = "/proc/pressure/memory"


@dataclass(frozen=True, slots=True)
class PressureLine:
    avg10: float
    avg60: float
    avg300: float
    total_us: int


@dataclass(frozen=True, slots=True)
class MemoryPressure:
    some: PressureLine
    full: PressureLine | None  # kernels before 5.x' full line for memory had none


def parse_pressure(text: str) -> MemoryPressure:
    """The `some` and `full` lines; ValueError naming what is wrong with the text."""
    lines: dict[str, PressureLine] = {}
    for raw in text.splitlines():
        kind, _, rest = raw.strip().partition(" ")
        if not kind:
            continue
        try:
            fields = dict(field.split("=", 1) for field in rest.split())
            lines[kind] = PressureLine(
                float(fields["avg10"]), float(fields["avg60"]), float(fields["avg300"]), int(fields["total"])
            )
        except (KeyError, ValueError):
            raise ValueError(
                f"{PATH}: expected 'some avg10=… avg60=… avg300=… total=…', got {raw.strip()[:80]!r}"
            ) from None
    if "some" not in lines:
        raise ValueError(f"{PATH}: no 'some' line in {text.strip()[:80]!r}")
    return MemoryPressure(lines["some"], lines.get("full"))


async def collect_memory_pressure(transport: Transport) -> MemoryPressure | None:
    """None when the kernel keeps no PSI (built without it, or booted with psi=0)."""
    try:
        return parse_pressure(await read_text(transport, PATH))
    except (FileNotFoundError, PermissionError):
        return None
    except OSError as exc:  # psi=0: the file is there, reading it fails with EOPNOTSUPP
        if exc.errno == 95:
            return None
        raise
