"""The GPU line with clock event reasons: SM clock against its max, slowdowns in warning style, and
one line in compact mode (pure content, then the real app fed with fixed states)."""

from __future__ import annotations

import dataclasses

from gb10dash.collectors.gpu import GpuSample
from gb10dash.config import Config
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.widgets.gpu import GpuLine, gpu_content
from gb10dash.ui.widgets.host_panel import HostPanel
from gb10dash.ui.widgets.labels import MUTED, WARN

from . import states


def styled(content, style: str) -> list[str]:
    return [content.plain[span.start : span.end] for span in content.spans if span.style == style]


def test_content_names_the_slowdown_in_warning_style() -> None:
    gpu = GpuSample(
        utilization_pct=96.0,
        temperature_c=61.0,
        power_w=30.2,
        sm_clock_mhz=1395.0,
        sm_clock_max_mhz=1980.0,
        clocks_event_reasons=0x8 | 0x40,
    )
    hot = gpu_content(gpu)
    assert hot.plain == "gpu  ⚠ HW thermal slowdown · 96% · 61°C · 30.2 W · SM 1,395/1,980 MHz"
    assert styled(hot, WARN) == ["⚠ HW thermal slowdown", "1,395/1,980 MHz"]
    idle = gpu_content(dataclasses.replace(gpu, clocks_event_reasons=0x1))
    assert idle.plain == "gpu  96% · 61°C · 30.2 W · SM 1,395/1,980 MHz" and styled(idle, WARN) == []
    held = gpu_content(dataclasses.replace(gpu, clocks_event_reasons=0x2 | 0x4 | 0x400))
    assert held.plain == "gpu  ⚠ SW power cap · 96% · 61°C · 30.2 W · SM 1,395/1,980 MHz · app clocks, reasons 0x400"
    assert "app clocks, reasons 0x400" in styled(held, MUTED)
    no_max = gpu_content(GpuSample(sm_clock_mhz=2405.0, clocks_event_reasons=None))
    assert no_max.plain == "gpu  – · – · – · SM 2,405 MHz"


async def test_the_panel_shows_it_and_compact_mode_keeps_it_on_one_line() -> None:
    pegasus = states.pegasus()
    shown = [
        dataclasses.replace(
            pegasus, gpu=dataclasses.replace(pegasus.gpu, sm_clock_mhz=1395.0, clocks_event_reasons=0x4 | 0x20)
        )
    ]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(80, 50)) as pilot:
        await pilot.pause(0.1)
        panel = app.query_one("#host-pegasus", HostPanel)
        line = panel.query_one(GpuLine)
        assert line.content.plain == (
            "gpu  ⚠ SW power cap, SW thermal slowdown · 96% · 61°C · 47.8 W · SM 1,395/3,003 MHz"
        )
        assert not panel.has_class("-compact") and line.region.height == 2  # 83 cells in a 76-cell line
        await pilot.press("z")
        await pilot.pause(0.2)
        assert panel.has_class("-compact") and line.region.height == 1
        await pilot.resize_terminal(40, 50)  # a narrow panel: the line is cut, the slowdown still shows
        await pilot.pause(0.2)
        assert line.region.height == 1 and line.region.width < 40
        shown = line.render_line(0).text
        assert shown.startswith("gpu  ⚠ SW power cap") and shown.rstrip().endswith("…"), shown
