"""The GPU line: utilisation, temperature, power, SM clock / its max, clock event reasons (None shown as –, never 0)."""

from __future__ import annotations

from textual.content import Content

from gb10dash.collectors.clock_reasons import unknown_bits
from gb10dash.collectors.gpu import GpuSample
from gb10dash.format import DASH, number
from gb10dash.ui.widgets.labels import BAD, MUTED, WARN, field, joined
from gb10dash.ui.widgets.line import Line


def _with_unit(value: float | None, unit: str, digits: int = 0) -> str:
    return DASH if value is None else f"{number(round(value, digits), digits)}{unit}"


def temperature_style(celsius: float | None) -> str:
    if celsius is None or celsius < 80:
        return ""
    return WARN if celsius < 90 else BAD


def sm_clock(gpu: GpuSample) -> str:
    """`1,395/1,980 MHz`; the max left out when not reported."""
    if gpu.sm_clock_max_mhz is None:
        return _with_unit(gpu.sm_clock_mhz, " MHz")
    return f"{_with_unit(gpu.sm_clock_mhz, '')}/{_with_unit(gpu.sm_clock_max_mhz, ' MHz')}"


def slowdowns(gpu: GpuSample) -> list[Content]:
    """`⚠ HW thermal slowdown` in warning style, or nothing."""
    slow = gpu.throttle_reasons
    return [Content.styled("⚠ " + ", ".join(r.label for r in slow), WARN)] if slow else []


def held_by_settings(gpu: GpuSample) -> list[Content]:
    """Clocks held by a setting (applications / display clocks) and bits no reason names, muted; idle is
    not said (0 % says it)."""
    held = [r.label for r in gpu.clock_reasons if not r.throttle and r.key != "gpu_idle"]
    if unknown := unknown_bits(gpu.clocks_event_reasons):
        held.append(f"reasons {unknown:#x}")
    return [Content.styled(", ".join(held), MUTED)] if held else []


def gpu_content(gpu: GpuSample | None) -> Content:
    """A slowdown comes first, so a compact panel's line cut with an ellipsis still shows it."""
    if gpu is None:
        return Content.assemble(("gpu  ", MUTED), ("no nvidia-smi sample", MUTED))
    return Content.assemble(
        ("gpu  ", MUTED),
        joined(
            [
                *slowdowns(gpu),
                Content.styled(_with_unit(gpu.utilization_pct, "%"), "bold"),
                Content.styled(_with_unit(gpu.temperature_c, "°C"), temperature_style(gpu.temperature_c) or "bold"),
                Content.styled(_with_unit(gpu.power_w, " W", 1), "bold"),
                field("SM", sm_clock(gpu), WARN if gpu.throttle_reasons else "bold"),
                *held_by_settings(gpu),
            ]
        ),
    )


class GpuLine(Line):
    def show(self, gpu: GpuSample | None) -> None:
        self.set_content(gpu_content(gpu))
