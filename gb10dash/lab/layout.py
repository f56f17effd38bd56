"""Where everything of the lab lives on disk (a contract shared with the shims)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gb10dash import locations
from gb10dash.lab.models import QWEN8B, SPLIT_MODEL

UNIT = "llama-server.service"
#: the environment of every lab llama-server. llama-server built natively on a CPU with AMX (these
#: machines have it) repacks Q8_0 weights for its AMX kernels, whose first tile instruction dies with
#: SIGILL here (seen in a gdb backtrace: tinygemm_kernel_amx, `tilezero`); without repacking the
#: plain CPU kernels run. The same as `--no-repack`, kept out of ExecStart so the flags stay the hosts'.
SERVER_ENV = {"LLAMA_ARG_REPACK": "0"}


def default_root() -> Path:
    """$GB10DASH_LAB_DIR, else $XDG_STATE_HOME/gb10dash/lab (~/.local/state/gb10dash/lab)."""
    env = os.environ.get("GB10DASH_LAB_DIR")
    if env:
        return Path(env).expanduser().absolute()
    return locations.state_dir().absolute() / "lab"


@dataclass(frozen=True)
class HostSpec:
    """What a lab host pretends to be."""

    name: str
    model: str  # path of the (first) GGUF file, relative to the share
    gpu_profile: str  # read by the nvidia-smi shim
    cuda_arch: str
    baseline_gen_tps: float
    baseline_prompt_tps: float
    ctx: int = 4096
    extra_args: tuple[str, ...] = ()

    @property
    def alias(self) -> str:
        return f"{self.name}-llm"


HOST_SPECS: dict[str, HostSpec] = {
    "pegasus": HostSpec("pegasus", SPLIT_MODEL, "gb10", "121a-real", 300.0, 3000.0, extra_args=("--jinja",)),
    # stella replays the H100 recordings, so its nvidia-smi says compute_cap 9.0 -> arch 90.
    "stella": HostSpec("stella", QWEN8B, "h100", "90", 1200.0, 15000.0),
}


@dataclass(frozen=True)
class HostPaths:
    root: Path  # = $GB10LAB_ROOT of that host

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def nvidia_smi(self) -> Path:  # the stand-in a session finds on its PATH
        return self.bin / "nvidia-smi"

    @property
    def home(self) -> Path:  # the login's home (sshd's SetEnv HOME) and the server's working directory
        return self.root

    @property
    def server_home(self) -> Path:
        return self.root

    @property
    def unit_dir(self) -> Path:
        return self.root / "etc" / "systemd" / "system"

    @property
    def unit_file(self) -> Path:
        return self.unit_dir / UNIT

    @property
    def dropin_dir(self) -> Path:
        return self.unit_dir / f"{UNIT}.d"

    @property
    def gpu_profile(self) -> Path:
        return self.root / "etc" / "gpu-profile"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def llama_cpp_dir(self) -> Path:
        return self.root / "llama.cpp"

    @property
    def build_dir(self) -> Path:
        return self.llama_cpp_dir / "build"

    @property
    def llama_server(self) -> Path:
        return self.build_dir / "bin" / "llama-server"


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def hosts_toml(self) -> Path:
        return self.root / "hosts.toml"

    @property
    def lab_json(self) -> Path:
        return self.root / "lab.json"

    @property
    def ssh_dir(self) -> Path:
        return self.root / "ssh"

    @property
    def ssh_config(self) -> Path:
        return self.ssh_dir / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.ssh_dir / "known_hosts"

    @property
    def client_key(self) -> Path:
        return self.ssh_dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.ssh_dir / "authorized_keys"

    @property
    def share_src(self) -> Path:
        return self.root / "share-src"

    def sshd_dir(self, host: str) -> Path:
        return self.ssh_dir / host

    def host(self, host: str) -> HostPaths:
        return HostPaths(self.root / "hosts" / host)
