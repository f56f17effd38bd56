"""The GPU line: utilisation, temperature, power, SM clock (None shown as –, never 0)."""

from __future__ import annotations

from textual.content import Content

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


def gpu_content(gpu: GpuSample | None) -> Content:
    if gpu is None:
        return Content.assemble(("gpu  ", MUTED), ("no nvidia-smi sample", MUTED))
    return Content.assemble(("gpu  ", MUTED), joined([
        Content.styled(_with_unit(gpu.utilization_pct, "%"), "bold"),
        Content.styled(_with_unit(gpu.temperature_c, "°C"), temperature_style(gpu.temperature_c) or "bold"),
        Content.styled(_with_unit(gpu.power_w, " W", 1), "bold"),
        field("SM", _with_unit(gpu.sm_clock_mhz, " MHz"), "bold"),
    ]))


class GpuLine(Line):
    def show(self, gpu: GpuSample | None) -> None:
        self.set_content(gpu_content(gpu))
