"""The lab of real parts (sshd, llama-server, tiny GGUF models, systemd/nvidia-smi shims) that
the tests and ``gb10dash demo`` run on 127.0.0.1. See DESIGN.md, "The lab"."""

from __future__ import annotations

from gb10dash.lab.lab import Lab, LabHost
from gb10dash.lab.layout import default_root
from gb10dash.lab.llama_bin import BUILD_HINT, LlamaServerNotFound, find_llama_server

__all__ = ["BUILD_HINT", "Lab", "LabHost", "LlamaServerNotFound", "default_root", "find_llama_server"]
