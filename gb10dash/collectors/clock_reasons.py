"""nvidia-smi `clocks_event_reasons.active` (a bitmask, printed as `0x0000000000000001`) → reasons (pure).

Bit values are nvml.h's `nvmlClocksEventReason*`; `key` is the field suffix of the per-reason
query (`clocks_event_reasons.hw_slowdown`), `title` the wording of `nvidia-smi -q -d PERFORMANCE`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClockReason:
    bit: int
    key: str  # the query field suffix, also the exporter's label value
    title: str  # as `nvidia-smi -q` words it
    label: str  # short, for the GPU line
    throttle: bool  # a slowdown; False for idle and for clocks held by a setting


REASONS: tuple[ClockReason, ...] = (
    ClockReason(0x1, "gpu_idle", "Idle", "idle", False),
    ClockReason(0x2, "applications_clocks_setting", "Applications Clocks Setting", "app clocks", False),
    ClockReason(0x4, "sw_power_cap", "SW Power Cap", "SW power cap", True),
    ClockReason(0x8, "hw_slowdown", "HW Slowdown", "HW slowdown", True),
    ClockReason(0x10, "sync_boost", "Sync Boost", "sync boost", True),
    ClockReason(0x20, "sw_thermal_slowdown", "SW Thermal Slowdown", "SW thermal slowdown", True),
    ClockReason(0x40, "hw_thermal_slowdown", "HW Thermal Slowdown", "HW thermal slowdown", True),
    ClockReason(0x80, "hw_power_brake_slowdown", "HW Power Brake Slowdown", "HW power brake", True),
    ClockReason(0x100, "display_clock_setting", "Display Clock Setting", "display clock", False),
)
BY_KEY = {r.key: r for r in REASONS}
THROTTLE_MASK = sum(r.bit for r in REASONS if r.throttle)
_HW_CAUSES = BY_KEY["hw_thermal_slowdown"].bit | BY_KEY["hw_power_brake_slowdown"].bit


def decode(mask: int | None) -> tuple[ClockReason, ...]:
    """The reasons whose bit is set, in nvml.h order; None (not reported) → ()."""
    if not mask:
        return ()
    return tuple(r for r in REASONS if mask & r.bit)


def throttling(mask: int | None) -> tuple[ClockReason, ...]:
    """The slowdowns among them (not idle, not applications/display clock settings). HW Slowdown is
    left out when a HW cause it summarises (thermal, power brake) is also set."""
    found = tuple(r for r in decode(mask) if r.throttle)
    if mask and mask & _HW_CAUSES:
        found = tuple(r for r in found if r.key != "hw_slowdown")
    return found


def unknown_bits(mask: int | None) -> int:
    """Bits no reason here names (a newer driver's): shown as a hex number, never dropped silently."""
    return (mask or 0) & ~sum(r.bit for r in REASONS)
