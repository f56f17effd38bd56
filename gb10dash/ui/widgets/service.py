"""The service line: unit state glyph, active/sub state, uptime, PID, restarts, last result."""

from __future__ import annotations

from textual.content import Content

from gb10dash.collectors.systemd import UnitStatus
from gb10dash.format import DASH, coarse_duration, number
from gb10dash.ui.widgets.labels import BAD, MUTED, OK, WARN, field, joined
from gb10dash.ui.widgets.line import Line


def unit_glyph(unit: UnitStatus | None) -> tuple[str, str]:
    """(glyph, style) for a unit: ● running, ✗ failed, ↻ (re)starting, ◐ stopping, ◌ stopped."""
    if unit is None:
        return "?", MUTED
    if unit.is_running:
        return "●", OK
    if unit.is_failed:
        return "✗", BAD
    if unit.is_restarting or unit.active_state in ("activating", "reloading"):
        return "↻", WARN
    if unit.active_state == "deactivating":
        return "◐", WARN
    return "◌", MUTED


def service_content(unit: UnitStatus | None, now: float) -> Content:
    glyph, style = unit_glyph(unit)
    if unit is None:
        return Content.assemble((glyph + " ", style), ("unit state unknown", MUTED))
    running = unit.is_running
    if unit.watch_only:  # no systemd behind it: the process itself
        return joined(
            [
                Content.assemble(
                    (glyph + " ", style),
                    ("llama-server process" if running else "no llama-server process", f"bold {style}"),
                ),
                field("up", coarse_duration(now - unit.started_at) if running and unit.started_at else DASH),
                field("pid", str(unit.main_pid) if unit.main_pid else DASH),
                Content.assemble(("watch-only: no unit", MUTED)),
            ]
        )
    uptime = coarse_duration(now - unit.started_at) if running and unit.started_at else DASH
    result_style = "" if unit.result in (None, "success") else BAD
    restarts_style = WARN if unit.n_restarts else ""
    return joined(
        [
            Content.assemble((glyph + " ", style), (f"{unit.active_state}/{unit.sub_state}", f"bold {style}")),
            field("up", uptime),
            field("restarts", number(unit.n_restarts), restarts_style),
            field("result", unit.result or DASH, result_style),
            field("pid", str(unit.main_pid) if unit.main_pid else DASH),
        ]
    )


class ServiceLine(Line):
    """systemd state of the llama-server unit."""

    def show(self, unit: UnitStatus | None, now: float) -> None:
        self.set_content(service_content(unit, now))
