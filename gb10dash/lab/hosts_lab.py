"""The real-hosts lab: each lab host a Debian machine booted by systemd-nspawn (see container.py).

`HostsLab(root).start()` generates the model share (cached), keys and ports, prepares every
host's overlay, boots the containers in parallel, waits for their systemd to finish booting, and
writes the ssh_config (login `llm-agent`), known_hosts and hosts.toml the dashboard uses. The same
surface as the shim lab (`Lab`): hosts, host(), config_path, is_running, wait_ready, stop.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gb10dash.lab import llama_src, sshd
from gb10dash.lab.base import LabBase, Progress
from gb10dash.lab.container import (
    APT_HINT,
    BUILD_DIR,
    DROPIN_DIR,
    HOME,
    LLAMA_CPP_DIR,
    LOGIN_USER,
    NSPAWN,
    SERVER_HOME,
    SHARE,
    SMI_ROOT,
    UNIT_DIR,
    ContainerError,
    HostContainer,
    HostSetup,
)
from gb10dash.lab.hostfiles import write_hosts_toml
from gb10dash.lab.layout import HOST_SPECS, UNIT, HostSpec, Layout, default_root


@dataclass(frozen=True)
class ContainerHostPaths:
    """A container host's files as this machine sees them (through the overlay's merged root), under
    the names the shim lab's HostPaths uses, so that tests read either lab's files the same way."""

    root: Path  # the container's root
    share_src: Path  # the share: nspawn binds it inside the container only

    def _at(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def nvidia_smi(self) -> Path:
        return self._at("/usr/bin/nvidia-smi")

    @property
    def home(self) -> Path:  # llm-agent's
        return self._at(HOME)

    @property
    def server_home(self) -> Path:  # the server user's working directory
        return self._at(SERVER_HOME)

    @property
    def unit_dir(self) -> Path:
        return self._at(UNIT_DIR)

    @property
    def unit_file(self) -> Path:
        return self.unit_dir / UNIT

    @property
    def dropin_dir(self) -> Path:
        return self._at(DROPIN_DIR)

    @property
    def state(self) -> Path:  # the nvidia-smi stand-in's fault flags and samples
        return self._at(SMI_ROOT) / "state"

    @property
    def gpu_profile(self) -> Path:
        return self._at(SMI_ROOT) / "etc" / "gpu-profile"

    @property
    def models(self) -> Path:
        return self.share_src

    @property
    def llama_cpp_dir(self) -> Path:
        return self._at(LLAMA_CPP_DIR)

    @property
    def build_dir(self) -> Path:
        return self._at(BUILD_DIR)

    @property
    def llama_server(self) -> Path:
        return self.build_dir / "bin" / "llama-server"


@dataclass(frozen=True)
class ContainerLayout(Layout):
    """The real-hosts lab's files: the shim lab's Layout (ssh files, share, hosts.toml), with each
    host's own files inside its container."""

    @property
    def machines(self) -> Path:
        return self.root / "machines"

    def host(self, host: str) -> ContainerHostPaths:  # type: ignore[override]
        return ContainerHostPaths(HostContainer(self.machines, host).root, self.share_src)


def container_paths(_layout: Layout, spec: HostSpec) -> dict[str, str]:
    """Where a container host keeps its model, llama.cpp tree and share: the real hosts' paths."""
    return {
        "model_path": f"{SHARE}/{spec.model}",
        "llama_cpp_dir": LLAMA_CPP_DIR,
        "build_dir": BUILD_DIR,
        "model_share": SHARE,
    }


def can_boot() -> str | None:
    """None when this machine can boot container hosts, else why not."""
    if os.geteuid() != 0:
        return "the real-hosts lab needs root (it mounts overlays and boots containers)"
    for tool in (NSPAWN, "/usr/bin/sudo"):
        if not os.access(tool, os.X_OK):
            return f"{tool} not found: {APT_HINT}"
    return None


class HostsLab(LabBase):
    layout: ContainerLayout  # given to LabBase.__init__ below

    def __init__(
        self,
        root: Path | str | None = None,
        hosts: Sequence[str] = ("pegasus", "stella"),
        progress: Progress | None = None,
        journal_group: bool = True,
    ) -> None:
        super().__init__(
            ContainerLayout(Path(root).expanduser().absolute() if root else default_root().with_name("lab-hosts")),
            hosts,
            progress,
        )
        self.journal_group = journal_group

    def container(self, name: str) -> HostContainer:
        return HostContainer(self.layout.machines, name)

    @property
    def login_user(self) -> str:
        return LOGIN_USER

    def _host_root(self, name: str) -> Path:
        return self.container(name).root

    def _model_path(self, name: str) -> Path:
        return Path(SHARE) / HOST_SPECS[name].model

    def is_running(self) -> bool:
        return bool(self._state().get("running")) and all(self.container(s.name).is_running() for s in self.specs)

    def _preflight(self) -> None:
        why = can_boot()
        if why:
            raise ContainerError(why)

    # -- start ---------------------------------------------------------------------------
    def _start_locked(self) -> None:
        llama, ports = self._share_keys_ports()
        state = {"running": False, "root": str(self.root), "hosts": ports}
        self._save(state)
        authorized = self.layout.authorized_keys.read_text()
        setups = {
            s.name: HostSetup(
                s,
                ports[s.name]["ssh_port"],
                ports[s.name]["api_port"],
                sshd.host_key(self.layout, s.name),
                authorized,
                self.layout.share_src,
                llama,
                llama_src.upstream_root(self.layout),
                journal_group=self.journal_group,
            )
            for s in self.specs
        }
        for s in self.specs:
            self.container(s.name).prepare(setups[s.name])
        t_boot = time.monotonic()
        for s in self.specs:  # all boot at once; waited for below
            self.container(s.name).boot(setups[s.name])
        for s in self.specs:
            said = self.container(s.name).wait_booted(timeout=90)
            self.progress(
                f"{s.name}: booted ({said}) in {time.monotonic() - t_boot:.1f}s — systemd as PID 1, "
                f"sshd on 127.0.0.1:{ports[s.name]['ssh_port']} (alias {s.alias}, login {LOGIN_USER})"
            )
        sshd.write_client_files(self.layout, {s.name: ports[s.name]["ssh_port"] for s in self.specs}, user=LOGIN_USER)
        write_hosts_toml(
            self.layout, self.specs, {s.name: ports[s.name]["api_port"] for s in self.specs}, paths=container_paths
        )
        state.update(running=True, started_at=time.time(), boot_s=round(time.monotonic() - t_boot, 2))
        self._save(state)

    # -- readiness -----------------------------------------------------------------------
    def journal_tail(self, host: str, lines: int = 20) -> str:
        try:
            done = self.container(host).run(["journalctl", "-u", UNIT, "-n", str(lines), "--no-pager"])
            return (done.stdout + done.stderr).strip()
        except (OSError, subprocess.SubprocessError, ContainerError) as e:
            return f"(no journal: {e})"

    # -- stop ----------------------------------------------------------------------------
    def _stop_locked(self, quiet: bool) -> bool:
        say = (lambda _m: None) if quiet else self.progress
        did = False
        for s in self.specs:
            if self.container(s.name).stop():
                say(f"{s.name}: powered off")
                did = True
        state = self._state()
        if state:
            state["running"] = False
            self._save(state)
        return did
