"""What both labs share: the hosts they run, their files (lab.json, the lock), their ports and
waiting for the llama-servers. `Lab` (the shim lab) and `HostsLab` (a container per host) differ in
how a host is started, stopped and asked for its journal."""

from __future__ import annotations

import fcntl
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gb10dash.lab import models, sshd
from gb10dash.lab.layout import HOST_SPECS, Layout
from gb10dash.lab.llama_bin import find_llama_server

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabHost:
    name: str
    alias: str
    ssh_port: int
    api_port: int
    root: Path  # the host's files as this machine sees them
    model_path: Path  # the served model as the host names it

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


class LabBase:
    def __init__(self, layout: Layout, hosts: Sequence[str], progress: Progress | None) -> None:
        unknown = [h for h in hosts if h not in HOST_SPECS]
        if unknown:
            raise ValueError(f"unknown lab hosts {unknown}; known: {sorted(HOST_SPECS)}")
        self.layout = layout
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

    @property
    def login_user(self) -> str:
        """The user the lab's ssh aliases log in as."""
        return sshd.user_name()

    def _state(self) -> dict:
        try:
            return json.loads(self.layout.lab_json.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self, state: dict) -> None:
        tmp = self.layout.lab_json.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.layout.lab_json)

    def _host_root(self, name: str) -> Path:
        raise NotImplementedError

    def _model_path(self, name: str) -> Path:
        raise NotImplementedError

    @property
    def hosts(self) -> list[LabHost]:
        saved = self._state().get("hosts", {})
        if not all(s.name in saved for s in self.specs):
            raise RuntimeError(f"the lab in {self.root} has not been started")
        return [
            LabHost(
                s.name,
                s.alias,
                saved[s.name]["ssh_port"],
                saved[s.name]["api_port"],
                self._host_root(s.name),
                self._model_path(s.name),
            )
            for s in self.specs
        ]

    def host(self, name: str) -> LabHost:
        return next(h for h in self.hosts if h.name == name)

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

    def _share_keys_ports(self) -> tuple[Path, dict[str, dict[str, int]]]:
        """What every start needs first: the llama-server binary, the model share (generated once),
        the ssh keys and the ports."""
        llama = find_llama_server()
        t0 = time.monotonic()
        if models.ensure_share(self.layout.share_src, self.progress):
            self.progress(f"model share generated in {time.monotonic() - t0:.1f}s")
        sshd.ensure_keys(self.layout, [s.name for s in self.specs])
        return llama, self._ports()

    def _ports(self) -> dict[str, dict[str, int]]:
        """An ssh and an API port per host: the last start's when still free, else new ones."""
        old = self._state().get("hosts", {})
        taken: set[int] = set()

        def port(preferred: int | None) -> int:
            p = sshd.free_port(preferred if preferred not in taken else None)
            while p in taken:
                p = sshd.free_port()
            taken.add(p)
            return p

        return {
            s.name: {
                "ssh_port": port(old.get(s.name, {}).get("ssh_port")),
                "api_port": port(old.get(s.name, {}).get("api_port")),
            }
            for s in self.specs
        }

    # -- start and stop --------------------------------------------------------------------
    def is_running(self) -> bool:
        raise NotImplementedError

    def _preflight(self) -> None:
        """Raise when this machine cannot run this lab (before anything is touched)."""

    def _start_locked(self) -> None:
        raise NotImplementedError

    def _stop_locked(self, quiet: bool) -> bool:
        raise NotImplementedError

    def start(self) -> bool:
        """Start the lab; a running lab is left alone. True if it was started now."""
        self._preflight()
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

    def stop(self) -> bool:
        """Stop everything the lab started; True if anything was running."""
        if not self.root.is_dir():
            return False
        with self._locked():
            return self._stop_locked(quiet=False)

    # -- readiness -----------------------------------------------------------------------
    def journal_tail(self, host: str, lines: int = 20) -> str:
        raise NotImplementedError

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until every host's llama-server answers /health with 200."""
        deadline = time.monotonic() + timeout
        pending = {h.name: h for h in self.hosts}
        while pending:
            for name, h in list(pending.items()):
                if health_ok(h.api_url):
                    del pending[name]
                    self.progress(f"{name}: llama-server ready at {h.api_url}")
            if pending and time.monotonic() > deadline:
                detail = "\n".join(f"--- {n} journal ---\n{self.journal_tail(n)}" for n in pending)
                raise TimeoutError(f"llama-server not healthy after {timeout:.0f}s on {sorted(pending)}\n{detail}")
            if pending:
                time.sleep(0.1)


def health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
