"""The model lines: GGUF file, quant, size on disk, context in use / configured, health."""

from __future__ import annotations

from textual.content import Content

from gb10dash.collectors.llama import HealthState, model_file_name
from gb10dash.core.state import HostState
from gb10dash.format import DASH, bytes_count, duration, number
from gb10dash.ui.widgets.labels import BAD, MUTED, OK, WARN, bar, field, joined, lines
from gb10dash.ui.widgets.line import Line


def health_content(state: HostState, now: float) -> Content:
    health = state.health
    if health is None:
        return Content.assemble(("? ", MUTED), ("health unknown", MUTED))
    if health.state is HealthState.OK:
        return Content.assemble(("● ", OK), ("ok", f"bold {OK}"))
    if health.state is HealthState.LOADING:
        started = state.unit.started_at if state.unit and state.unit.is_running else None
        elapsed = f" {duration(now - started)} since start" if started else ""
        return Content.assemble(
            ("◐ ", WARN),
            ("loading", f"bold {WARN}"),
            (elapsed, WARN),
            (f" ({health.message})" if health.message else "", MUTED),
        )
    return Content.assemble(("✗ ", BAD), (health.state.value, f"bold {BAD}"))  # the why: in the alerts


def model_content(state: HostState, now: float) -> Content:
    model = state.model
    if model is not None:
        name = Content.styled(model_file_name(model.id), "bold")
    else:
        name = Content.assemble((model_file_name(state.config.model_path), MUTED), (" (configured)", MUTED))
    in_use = state.props.n_ctx if state.props else (model.n_ctx if model else None)
    details = joined(
        [
            field("quant", (model.ftype if model else None) or DASH),
            field("size", bytes_count(model.size_bytes if model else None)),
            field("ctx", f"{number(in_use)} / {number(state.config.ctx)}"),
            health_content(state, now),
        ]
    )
    progress = load_content(state)
    return lines(name, details, progress) if progress is not None else lines(name, details)


LOAD_BAR_CELLS = 20


def load_content(state: HostState) -> Content | None:
    """`▇▇▇▇▁▁▁ loading 42 % · 1.3 GiB of 3.1 GiB · 180 MiB/s · ETA 10 s` while the model loads; an
    estimate (from past loads) in muted style, saying so."""
    progress = state.load_progress
    if progress is None or state.health is None or state.health.state is not HealthState.LOADING:
        return None
    style = MUTED if progress.estimated else WARN
    return Content.assemble(bar(progress.fraction, LOAD_BAR_CELLS, style), " ", (progress.describe(), style))


class ModelLine(Line):
    """What the server serves, and whether it answers."""

    def show(self, state: HostState, now: float) -> None:
        self.set_content(model_content(state, now))
