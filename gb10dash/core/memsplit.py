"""Where a unified-memory host's RAM goes: the split an operator needs on a GB10.

On GB10 the GPU allocates from the same LPDDR5x as everything else, and a warm page cache is a
common cause of CUDA out-of-memory at model load. One bar per host shows, from /proc/meminfo and
nvidia-smi's per-process figure: what llama-server holds on the GPU, other used memory
(MemTotal − MemAvailable − that), the reclaimable page cache (what `vm.drop_caches` would give
back: Cached + Buffers, within what is not already counted) and free memory. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from gb10dash.collectors.memory import MemInfo


@dataclass(frozen=True, slots=True)
class MemorySplit:
    total_kib: int
    gpu_kib: int  # held by llama-server on the GPU (compute-apps used_memory)
    other_kib: int  # every other use: MemTotal − MemAvailable − gpu
    cache_kib: int  # reclaimable page cache
    free_kib: int  # MemFree
    gpu_known: bool  # False: nvidia-smi gave no per-process figure (all of "used" is in other)

    def fractions(self) -> tuple[float, float, float, float]:
        total = float(self.total_kib)
        return (self.gpu_kib / total, self.other_kib / total, self.cache_kib / total, self.free_kib / total)


def memory_split(mem: MemInfo | None, gpu_held_mib: float | None) -> MemorySplit | None:
    """None when /proc/meminfo lacks what the split needs."""
    if mem is None or not mem.total_kib or mem.used_kib is None or mem.free_kib is None:
        return None
    total, used, free = mem.total_kib, max(0, mem.used_kib), max(0, mem.free_kib)
    gpu = min(used, round(gpu_held_mib * 1024)) if gpu_held_mib is not None and gpu_held_mib > 0 else 0
    cache = (mem.cached_kib or 0) + (mem.buffers_kib or 0)
    cache = max(0, min(cache, total - used - free))  # never more than what is neither used nor free
    free = min(free, total - used - cache)
    return MemorySplit(total, gpu, used - gpu, cache, max(0, free), gpu_held_mib is not None)
