"""Memory: used / total from /proc/meminfo as a bar, llama-server RSS, GPU-held, model size vs available.

On GB10 nvidia-smi reports memory as [N/A] (unified memory): /proc/meminfo is the real figure.
Where the GPU has its own memory (H100), a second bar shows nvidia-smi's used / total.
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from gb10dash.core.memsplit import MemorySplit, memory_split
from gb10dash.core.state import HostState
from gb10dash.format import bytes_count, bytes_kib, mib, percent
from gb10dash.ui.widgets.labels import BAD, MUTED, WARN, bar, field, joined, level_style
from gb10dash.ui.widgets.rows_visual import MadeRows, RowStrips, RowsVisual, same_rows

_LABEL = 5  # "mem  ", "vram "


def bar_line(name: str, used: str, total: str, fraction: float | None, width: int) -> Content:
    tail = f" {used} / {total} {percent(fraction)}" if width >= 50 else f" {used}/{total} {percent(fraction)}"
    style = level_style(fraction)
    return Content.assemble(
        (name.ljust(_LABEL), MUTED),
        bar(fraction, width - _LABEL - len(tail), style),
        (tail, "bold" if fraction is not None else MUTED),
    )


#: (segment, style) of the unified-memory bar, in order; free memory is the muted rest
SPLIT_STYLES = (("gpu", "$accent"), ("other", "$primary"), ("cache", "$warning 60%"))


def split_line(split: MemorySplit, width: int) -> Content:
    """One bar: llama-server on the GPU, other used, reclaimable cache, free."""
    used = split.gpu_kib + split.other_kib
    tail = f" {bytes_kib(used)} / {bytes_kib(split.total_kib)} {percent(used / split.total_kib)}"
    cells = max(1, width - _LABEL - len(tail))
    parts: list[tuple[str, str]] = [("mem".ljust(_LABEL), MUTED)]
    taken = 0
    for (_name, style), fraction in zip(SPLIT_STYLES, split.fractions()[:3]):
        count = min(cells - taken, round(fraction * cells))
        parts.append(("█" * count, style))
        taken += count
    parts += [("░" * (cells - taken), MUTED), (tail, "bold")]
    return Content.assemble(*parts)


def split_legend(split: MemorySplit) -> Content:
    gpu = "GPU" if split.gpu_known else "GPU n/a"
    return joined(
        [
            Content.assemble(("■ ", SPLIT_STYLES[0][1]), field(gpu, bytes_kib(split.gpu_kib))),
            Content.assemble(("■ ", SPLIT_STYLES[1][1]), field("other", bytes_kib(split.other_kib))),
            Content.assemble(("■ ", SPLIT_STYLES[2][1]), field("cache", bytes_kib(split.cache_kib))),
            field("free", bytes_kib(split.free_kib)),
        ]
    )


def memory_rows(state: HostState, width: int, compact: bool = False) -> list[Content]:
    """Bars for /proc/meminfo (and VRAM where nvidia-smi has it), then the per-process figures.
    On a unified-memory host (nvidia-smi says N/A, as on GB10) the bar is split: llama-server's GPU
    memory, other used, reclaimable page cache, free — with a legend unless compact.

    Compact: the bars and one line of figures, without the source note.
    """
    mem, gpu = state.meminfo, state.gpu
    unified = gpu is not None and not gpu.memory_supported
    split = memory_split(mem, state.server_gpu_memory_mib) if unified else None
    if split is not None:
        rows = [split_line(split, width)]
        if not compact:
            rows.append(split_legend(split))
    else:
        rows = [
            bar_line(
                "mem",
                bytes_kib(mem.used_kib if mem else None),
                bytes_kib(mem.total_kib if mem else None),
                mem.used_fraction if mem else None,
                width,
            )
        ]
    if not compact:
        rows.append(
            Content.assemble(("/proc/meminfo", MUTED), (" (unified; nvidia-smi says N/A)" if unified else "", MUTED))
        )
    if gpu is not None and gpu.memory_supported:
        total, used = gpu.memory_total_mib, gpu.memory_used_mib
        fraction = used / total if used is not None and total else None
        rows.append(bar_line("vram", mib(used), mib(total), fraction, width))
    rss = state.process_memory.vm_rss_kib if state.process_memory else None
    process = [
        field("RSS" if compact else "llama-server RSS", bytes_kib(rss)),
        field("GPU-held", mib(state.server_gpu_memory_mib)),
    ]
    model_bytes = state.model.size_bytes if state.model else None
    sizes = [
        field("model", bytes_count(model_bytes)),
        field("available", bytes_kib(mem.available_kib if mem else None)),
    ]
    pressure = state.memory_pressure
    if pressure is not None:  # PSI: % of the last 10 s some task / every task stalled on memory
        full = pressure.full.avg10 if pressure.full is not None else 0.0
        worst = max(pressure.some.avg10, full * 5)
        sizes.append(
            field(
                "stalled", f"{pressure.some.avg10:.0f}%/{full:.0f}%", BAD if worst >= 10 else WARN if worst >= 1 else ""
            )
        )
    if compact:
        rows.append(joined([*process, sizes[0]]))
    else:
        rows += [joined(process), joined(sizes)]
    return rows


class MemoryView(Widget):
    """Rendered at the widget's width, so the bar fills the line."""

    compact: reactive[bool] = reactive(False, layout=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._state: HostState | None = None
        self._shown: list[Content] | None = None  # the rows render() last drew
        self._made = MadeRows()
        self._kept = RowStrips()

    def _inputs(self, state: HostState) -> tuple[object, ...]:
        gpu = state.gpu  # a GPU sample changes every second; the memory figures use only these of it
        return (
            state.meminfo,
            state.process_memory,
            state.server_gpu_memory_mib,
            state.model,
            state.memory_pressure,
            None if gpu is None else (gpu.memory_supported, gpu.memory_total_mib, gpu.memory_used_mib),
            self.size.width,
            self.compact,
        )

    def _rows(self, state: HostState) -> bool:
        """Make the rows (`_made.rows`) unless what they read is as at the last show; True when made now."""
        width, compact = max(self.size.width, 30), self.compact
        return self._made.make(self._inputs(state), lambda: memory_rows(state, width, compact))

    def show(self, state: HostState) -> None:
        self._state = state
        if not self._rows(state):  # the panel is drawn for its GPU line: nothing here moved
            return
        rows = self._made.rows
        if same_rows(rows, self._shown):  # a MemAvailable wiggle below the figures' rounding: nothing to draw
            return
        self.refresh(layout=self._shown is None or len(rows) != len(self._shown))  # new shape: new layout

    def render(self) -> RowsVisual:
        if self._state is None:
            return RowsVisual([Content.styled("memory: waiting for the first sample", MUTED)], self._kept)
        self._rows(self._state)
        self._shown = self._made.rows
        return RowsVisual(self._shown, self._kept)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._kept.clear()
