"""The lab: two pretend GB10 hosts on 127.0.0.1, made of real sshd and real llama-server.

``Lab(root).start()`` generates the model share (cached), writes each host's files, mounts the
share (root only), starts one sshd per host and starts ``llama-server.service`` through the
host's systemctl shim. ``stop()`` undoes all of it and leaves no process behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gb10dash.lab import hostfiles, mounts, procs, sshd
from gb10dash.lab.base import LabBase, LabHost, Progress
from gb10dash.lab.layout import HOST_SPECS, UNIT, Layout, default_root

__all__ = ["Lab", "LabHost", "Progress"]


class Lab(LabBase):
    def __init__(
        self,
        root: Path | str | None = None,
        hosts: Sequence[str] = ("pegasus", "stella"),
        progress: Progress | None = None,
    ):
        super().__init__(Layout(Path(root).expanduser().absolute() if root else default_root()), hosts, progress)

    def _host_root(self, name: str) -> Path:
        return self.layout.host(name).root

    def _model_path(self, name: str) -> Path:
        return self.layout.host(name).models / HOST_SPECS[name].model

    def is_running(self) -> bool:
        state = self._state()
        # each host's sshd by its pid file: a test that kills and restarts one leaves another pid
        return bool(state.get("running")) and all(
            procs.alive(sshd.read_pid(self.layout.sshd_dir(s.name) / "sshd.pid")) for s in self.specs
        )

    # -- start ---------------------------------------------------------------------------
    def _start_locked(self) -> None:
        llama, ports = self._share_keys_ports()
        state: dict[str, Any] = {"running": False, "root": str(self.root), "hosts": ports, "mounted": {}}
        self._save(state)
        install = _shim_installer()
        for s in self.specs:
            hp = self.layout.host(s.name)
            hostfiles.write_host_files(self.layout, s, ports[s.name]["api_port"], llama)
            install(hp.root, sys.executable)
            state["mounted"][s.name] = mounts.mount_share(self.layout.share_src, hp.models)
            self._save(state)
        for s in self.specs:
            ports[s.name]["sshd_pid"] = sshd.start_sshd(self.layout, s.name, ports[s.name]["ssh_port"])
            self._save(state)
            self.progress(
                f"{s.name}: sshd on 127.0.0.1:{ports[s.name]['ssh_port']} "
                f"(alias {s.alias}), share {'mounted' if state['mounted'][s.name] else 'NOT mounted'}"
            )
        sshd.write_client_files(self.layout, {s.name: ports[s.name]["ssh_port"] for s in self.specs})
        hostfiles.write_hosts_toml(self.layout, self.specs, {s.name: ports[s.name]["api_port"] for s in self.specs})
        for s in self.specs:
            self._systemctl(s.name, "daemon-reload", check=True)  # the unit file was rewritten
            self._systemctl(s.name, "start", check=True)
            self.progress(f"{s.name}: systemctl start {UNIT} (llama-server on 127.0.0.1:{ports[s.name]['api_port']})")
        state["running"] = True
        state["started_at"] = time.time()
        self._save(state)

    def _systemctl(self, host: str, action: str, check: bool, timeout: float = 30.0) -> subprocess.CompletedProcess:
        hp = self.layout.host(host)
        env = dict(os.environ, GB10LAB_ROOT=str(hp.root), PATH=f"{hp.bin}{os.pathsep}{os.environ.get('PATH', '')}")
        argv = [str(hp.bin / "systemctl"), action] + ([] if action == "daemon-reload" else [UNIT])
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise RuntimeError(
                f"{host}: systemctl {action} {UNIT} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}"
            )
        return done

    # -- readiness -----------------------------------------------------------------------
    def journal_tail(self, host: str, lines: int = 20) -> str:
        hp = self.layout.host(host)
        env = dict(os.environ, GB10LAB_ROOT=str(hp.root))
        try:
            done = subprocess.run(
                [str(hp.bin / "journalctl"), "-u", UNIT, "-n", str(lines), "--no-pager"],
                env=env,
                capture_output=True,
                text=True,
                timeout=10,
                stdin=subprocess.DEVNULL,
            )
            return (done.stdout + done.stderr).strip()
        except (OSError, subprocess.SubprocessError) as e:
            return f"(no journal: {e})"

    # -- stop ----------------------------------------------------------------------------
    def _stop_locked(self, quiet: bool) -> bool:
        say = (lambda _m: None) if quiet else self.progress
        state = self._state()
        hosts = state.get("hosts", {})
        did = bool(state.get("running"))
        sshd_pids = [h["sshd_pid"] for h in hosts.values() if h.get("sshd_pid")]
        sshd_pids += [pid for s in self.specs if (pid := sshd.read_pid(self.layout.sshd_dir(s.name) / "sshd.pid"))]
        anything = did or bool(procs.lab_processes(self.root, sshd_pids))
        for s in self.specs:
            if anything and (self.layout.host(s.name).bin / "systemctl").exists():
                try:
                    self._systemctl(s.name, "stop", check=False, timeout=20)
                    if did:
                        say(f"{s.name}: systemctl stop {UNIT}")
                except (OSError, subprocess.SubprocessError) as e:
                    say(f"{s.name}: systemctl stop failed ({e}); killing")
        left = procs.lab_processes(self.root, sshd_pids)
        if left:
            did = True
            say(f"stopping {len(left)} process(es): " + ", ".join(sorted({_pname(p) for p in left})))
            stuck = procs.terminate(left)
            if stuck:
                raise RuntimeError(f"could not stop pids {[p.pid for p in stuck]}")
        _shims_kill_all([self.layout.host(s.name).root for s in self.specs])  # normally a no-op by now
        for s in self.specs:
            target = self.layout.host(s.name).models
            if mounts.is_mount_point(target):
                mounts.unmount_share(target)
                say(f"{s.name}: unmounted {target}")
                did = True
        if state:
            state["running"] = False
            for h in hosts.values():
                h.pop("sshd_pid", None)
            self._save(state)
        return did


def _pname(p) -> str:
    try:
        return p.name()
    except Exception:
        return str(p.pid)


def _shims_kill_all(host_roots: list[Path]) -> None:
    """The shims' own cleanup (SIGKILL of what their state files name), when they provide one."""
    try:
        from gb10dash.lab.shims import kill_all
    except ImportError:
        return
    for root in host_roots:
        if (root / "state").is_dir():
            kill_all(root)


def _shim_installer() -> Callable[[Path, str], None]:
    try:
        from gb10dash.lab.shims import install_shims
    except ImportError as e:
        raise RuntimeError(
            "gb10dash.lab.shims.install_shims is missing: the lab needs the systemctl/"
            f"journalctl/nvidia-smi shims ({e})"
        ) from e
    return install_shims
