"""The unified-memory split on a recorded GB10 /proc/meminfo and odd cases."""

from __future__ import annotations

from pathlib import Path

from gb10dash.collectors.memory import MemInfo, parse_meminfo
from gb10dash.core.memsplit import memory_split

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _meminfo() -> MemInfo:
    return parse_meminfo((FIXTURES / "proc" / "meminfo-gb10.txt").read_text())


def test_split_adds_up_to_the_total_and_matches_meminfo() -> None:
    mem = _meminfo()
    split = memory_split(mem, 70_000.0)
    assert split is not None
    assert split.gpu_kib == min(mem.used_kib or 0, 70_000 * 1024)
    assert split.gpu_kib + split.other_kib == mem.used_kib
    assert split.gpu_kib + split.other_kib + split.cache_kib + split.free_kib <= mem.total_kib
    assert abs(sum(split.fractions()) - 1.0) < 0.05


def test_no_gpu_figure_puts_all_used_in_other_and_odd_inputs() -> None:
    mem = MemInfo(
        total_kib=1000,
        available_kib=600,
        free_kib=100,
        cached_kib=700,
        buffers_kib=50,
        swap_total_kib=0,
        swap_free_kib=0,
    )
    split = memory_split(mem, None)
    assert split is not None and not split.gpu_known
    assert (split.gpu_kib, split.other_kib, split.cache_kib, split.free_kib) == (0, 400, 500, 100)
    assert memory_split(mem, 10_000.0).gpu_kib == 400  # a GPU figure above "used" is capped
    assert memory_split(None, 1.0) is None
    assert memory_split(MemInfo(None, None, None, None, None, None, None), 1.0) is None


def test_data_age_turns_amber_then_red() -> None:
    from gb10dash.core.state import SourceStatus
    from gb10dash.ui.widgets.host_panel import age_level, data_age

    class Shown:  # the only part of HostState data_age reads
        sources = {
            "memory": SourceStatus(last_ok=100.0),
            "gpu": SourceStatus(last_ok=104.0),
            "unit": SourceStatus(last_ok=200.0),
        }  # a slow source does not make the panel fresh

    assert data_age(Shown(), 110.0) == 6.0  # type: ignore[arg-type]
    assert [age_level(a, (5.0, 30.0)) for a in (None, 1.0, 5.0, 29.9, 30.0)] == ["", "", "amber", "amber", "red"]
