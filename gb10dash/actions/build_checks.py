"""Was the new build made for the host's arch? Read from the build's own record, CMakeCache.txt.

Pure. The cache keeps what configure was given (`CMAKE_CUDA_ARCHITECTURES:UNINITIALIZED=90` on the
H100 run, tests/fixtures/cmake) and whether CUDA was on (`GGML_CUDA:BOOL=ON`); a build dir reused
from another configure, or a cache edited by hand, shows here before the binary is switched in.
"""

from __future__ import annotations

import posixpath

CACHE_KEYS = ("CMAKE_CUDA_ARCHITECTURES", "GGML_CUDA")


def cache_grep_argv(build_dir: str) -> tuple[str, ...]:
    """The lines of CMakeCache.txt the check reads (grep exits 1 when there are none: the check says so)."""
    return ("grep", "-E", "-e", r"^(CMAKE_CUDA_ARCHITECTURES|GGML_CUDA):", posixpath.join(build_dir, "CMakeCache.txt"))


def cache_values(text: str) -> dict[str, str]:
    """`KEY:TYPE=VALUE` lines → {KEY: VALUE} for the keys the check needs."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        name = key.split(":", 1)[0]
        if sep and name in CACHE_KEYS:
            values[name] = value.strip()
    return values


def check_build_arch(cache_text: str, arch: str | None) -> str:
    """'' when the cache says the build is for `arch` (None: a CPU build), else what is wrong."""
    values = cache_values(cache_text)
    cuda = values.get("GGML_CUDA", "").upper() in ("ON", "1", "TRUE", "YES")
    if arch is None:
        return "" if not cuda else "the build has GGML_CUDA=ON but a CPU build was planned"
    if "GGML_CUDA" not in values:
        return "CMakeCache.txt has no GGML_CUDA entry: cannot tell what the build is for"
    if not cuda:
        return f"the build has GGML_CUDA={values['GGML_CUDA']} (a CPU build), not a CUDA build for arch {arch}"
    built = [a.strip() for a in values.get("CMAKE_CUDA_ARCHITECTURES", "").split(";") if a.strip()]
    if arch not in built:
        return (
            f"the build is for CUDA arch {', '.join(built) or '(none recorded)'}, not the host's {arch}: "
            "its kernels would not run here"
        )
    return ""
