"""Drop the page cache on a unified-memory host (`D`, `gb10dash drop-caches HOST`).

On GB10 the GPU allocates from the same memory as the page cache; a model load can fail with CUDA
out-of-memory while gigabytes sit in reclaimable cache. `sync` first (dirty pages are written, not
lost), then `sysctl vm.drop_caches=3` (page cache, dentries and inodes). Nothing else changes; files
are read from disk again when needed. Audited like every action.
"""

from __future__ import annotations

from gb10dash.actions.plan import Plan, Step
from gb10dash.config import HostConfig
from gb10dash.format import bytes_kib


def plan_drop_caches(host: HostConfig, cache_kib: int | None = None) -> Plan:
    notes = ("the next reads of model files come from disk (or NFS) again: a restart right after is slower",)
    return Plan(
        action="drop-caches",
        host=host.name,
        notes=notes,
        summary="free the reclaimable page cache"
        + (f" (about {bytes_kib(cache_kib)} now)" if cache_kib is not None else ""),
        steps=(
            Step(
                "write dirty pages",
                argv=("sync",),
                timeout_s=300.0,
                why="drop_caches only drops clean pages: sync first so the most is freed",
            ),
            Step(
                "drop the page cache",
                argv=("sudo", "-n", "sysctl", "vm.drop_caches=3"),
                timeout_s=120.0,
                why="3: page cache, dentries and inodes",
            ),
        ),
    )
