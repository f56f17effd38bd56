"""The lab: two pretend GB10 hosts on 127.0.0.1, made of real sshd and real llama-server.

``Lab(root).start()`` generates the model share (cached), writes each host's files, mounts the
share (root only), starts one sshd per host and starts ``llama-server.service`` through the
host's systemctl shim. ``stop()`` undoes all of it and leaves no process behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gb10dash.lab import hostfiles, models, mounts, procs, sshd
from gb10dash.lab.layout import HOST_SPECS, UNIT, Layout, default_root
from gb10dash.lab.llama_bin import find_llama_server

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabHost:
    name: str
    alias: str
    ssh_port: int
    api_port: int
    root: Path  # $GB10LAB_ROOT of the host
    model_path: Path

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


class Lab:
    def __init__(self, root: Path | str | None = None, hosts: Sequence[str] = ("pegasus", "stella"),
                 progress: Progress | None = None):
        unknown = [h for h in hosts if h not in HOST_SPECS]
        if unknown:
            raise ValueError(f"unknown lab hosts {unknown}; known: {sorted(HOST_SPECS)}")
        self.layout = Layout(Path(root).expanduser().absolute() if root else default_root())
        self.specs = [HOST_SPECS[h] for h in hosts]
        self.progress: Progress = progress or (lambda _msg: None)

    # -- paths and state ---------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.layout.root

    @property
    def config_path(self) -> Path:
        return self.layout.hosts_toml

    @property
    def ssh_config_path(self) -> Path:
        return self.layout.ssh_config

    @property
    def known_hosts_path(self) -> Path:
        return self.layout.known_hosts

    def _state(self) -> dict:
        try:
            return json.loads(self.layout.lab_json.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict) -> None:
        tmp = self.layout.lab_json.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.layout.lab_json)

    @property
    def hosts(self) -> list[LabHost]:
        saved = self._state().get("hosts", {})
        if not all(s.name in saved for s in self.specs):
            raise RuntimeError(f"the lab in {self.root} has not been started")
        return [LabHost(s.name, s.alias, saved[s.name]["ssh_port"], saved[s.name]["api_port"],
                        self.layout.host(s.name).root, self.layout.host(s.name).models / s.model)
                for s in self.specs]

    def host(self, name: str) -> LabHost:
        return next(h for h in self.hosts if h.name == name)

    def is_running(self) -> bool:
        state = self._state()
        # each host's sshd by its pid file: a test that kills and restarts one leaves another pid
        return bool(state.get("running")) and all(
            procs.alive(sshd.read_pid(self.layout.sshd_dir(s.name) / "sshd.pid")) for s in self.specs)

    @contextmanager
    def _locked(self, timeout: float = 120.0) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"another process holds {self.root / '.lock'}") from None
                    time.sleep(0.1)
            yield

    # -- start ---------------------------------------------------------------------------
    def start(self) -> bool:
        """Start the lab; a running lab is left alone. True if it was started now."""
        with self._locked():
            if self.is_running():
                self.progress(f"lab already running in {self.root}")
                return False
            self._stop_locked(quiet=True)  # leftovers of a half-dead lab
            try:
                self._start_locked()
            except BaseException:
                self._stop_locked(quiet=True)
                raise
            return True

    def _start_locked(self) -> None:
        llama = find_llama_server()
        t0 = time.monotonic()
        if models.ensure_share(self.layout.share_src, self.progress):
            self.progress(f"model share generated in {time.monotonic() - t0:.1f}s")
        sshd.ensure_keys(self.layout, [s.name for s in self.specs])
        old = self._state().get("hosts", {})
        taken: set[int] = set()

        def port(preferred: int | None) -> int:
            p = sshd.free_port(preferred if preferred not in taken else None)
            while p in taken:
                p = sshd.free_port()
            taken.add(p)
            return p

        ports = {s.name: {"ssh_port": port(old.get(s.name, {}).get("ssh_port")),
                          "api_port": port(old.get(s.name, {}).get("api_port"))} for s in self.specs}
        state = {"running": False, "root": str(self.root), "hosts": ports, "mounted": {}}
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
            self.progress(f"{s.name}: sshd on 127.0.0.1:{ports[s.name]['ssh_port']} "
                          f"(alias {s.alias}), share {'mounted' if state['mounted'][s.name] else 'NOT mounted'}")
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
        done = subprocess.run(argv, env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise RuntimeError(f"{host}: systemctl {action} {UNIT} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()}")
        return done

    # -- readiness -----------------------------------------------------------------------
    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every host's llama-server answers /health with 200."""
        deadline = time.monotonic() + timeout
        pending = {h.name: h for h in self.hosts}
        while pending:
            for name, h in list(pending.items()):
                if _health_ok(h.api_url):
                    del pending[name]
                    self.progress(f"{name}: llama-server ready at {h.api_url}")
            if pending and time.monotonic() > deadline:
                detail = "\n".join(f"--- {n} journal ---\n{self._journal_tail(n)}" for n in pending)
                raise TimeoutError(f"llama-server not healthy after {timeout:.0f}s on {sorted(pending)}\n{detail}")
            if pending:
                time.sleep(0.1)

    def _journal_tail(self, host: str) -> str:
        hp = self.layout.host(host)
        env = dict(os.environ, GB10LAB_ROOT=str(hp.root))
        try:
            done = subprocess.run([str(hp.bin / "journalctl"), "-u", UNIT, "-n", "20", "--no-pager"], env=env,
                                  capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
            return (done.stdout + done.stderr).strip()
        except (OSError, subprocess.SubprocessError) as e:
            return f"(no journal: {e})"

    # -- stop ------------------------------------------------------------------------------
    def stop(self) -> bool:
        """Stop everything the lab started; True if anything was running."""
        if not self.root.is_dir():
            return False
        with self._locked():
            return self._stop_locked(quiet=False)

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
    except Exception:  # noqa: BLE001 - gone meanwhile
        return str(p.pid)


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


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
        raise RuntimeError("gb10dash.lab.shims.install_shims is missing: the lab needs the systemctl/"
                           f"journalctl/nvidia-smi shims ({e})") from e
    return install_shims
