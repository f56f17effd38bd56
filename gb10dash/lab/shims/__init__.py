"""Shims of the test/demo lab for what cannot run in these containers: systemctl, journalctl (no systemd
as PID 1), nvidia-smi (no GPU) and sudo. Never on the product's code path.

Each lab host has a root directory ($GB10LAB_ROOT) holding bin/ (the wrappers installed here),
etc/systemd/system/ (unit files, drop-ins), etc/gpu-profile ("gb10" | "h100"), optional etc/hostname,
and state/ (unit state, journal, locks — owned by these shims).
"""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path

from .common import ROOT_ENV, pid_alive, read_json

SHIMS = {"systemctl": "systemctl", "journalctl": "journalctl", "sudo": "sudo", "nvidia-smi": "nvidia_smi"}
PACKAGE_PARENT = Path(__file__).resolve().parents[3]  # the directory holding the gb10dash package


def install_shims(host_root: Path, python: str) -> None:
    """Write $host_root/bin/{systemctl,journalctl,sudo,nvidia-smi} (tiny sh wrappers) and the state dir.

    The wrappers default GB10LAB_ROOT to host_root (an already exported value wins) and put the directory
    holding the gb10dash package on PYTHONPATH, so they work whether or not gb10dash is installed."""
    host_root = Path(host_root)
    bin_dir = host_root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (host_root / "state").mkdir(parents=True, exist_ok=True)
    for name, module in SHIMS.items():
        text = (
            "#!/bin/sh\n"
            f'if [ -z "${{{ROOT_ENV}:-}}" ]; then {ROOT_ENV}={shlex.quote(str(host_root))}; fi\n'
            f"export {ROOT_ENV}\n"
            f"PYTHONPATH={shlex.quote(str(PACKAGE_PARENT))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
            "export PYTHONPATH\n"
            f'exec {shlex.quote(python)} -m gb10dash.lab.shims.{module} "$@"\n'
        )
        path = bin_dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        os.replace(tmp, path)


def kill_all(host_root: Path) -> list[int]:
    """SIGKILL every supervisor and service process group the lab host's state knows of (test cleanup).
    Returns the pids signalled."""
    killed = []
    for path in sorted((Path(host_root) / "state" / "units").glob("*.json")):
        state = read_json(path) or {}
        for key, group in (("supervisor_pid", False), ("main_pid", True)):
            pid = int(state.get(key) or 0)
            if pid_alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL) if group else os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except (ProcessLookupError, PermissionError):
                    pass
    return killed
