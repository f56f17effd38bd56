"""Idle cost over a window: client CPU (% of one core) and RSS, and the remote cost per lab host.

Window 1: the dashboard (real terminal: tmux) watching the lab and `llamastat` watching one
lab server, side by side. Window 2: the naive collector (one `ssh` per source per poll).
The client figures of the naive collector include its reaped `ssh` children.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.measure import CpuWindow, Tmux
from bench.remote_cost import HostCost, RemoteCost
from gb10dash.lab import Lab

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@dataclass
class ClientCost:
    name: str
    cpu_percent: float
    rss_max_mib: float
    note: str = ""


@dataclass
class Window:
    clients: list[ClientCost]
    remote: dict[str, HostCost]


#: the dashboard runs from this checkout (not whatever the venv installed), so a run can name its commit
DASHBOARD_ENV = {"PYTHONPATH": str(REPO)}


def dashboard_argv(config: Path, refresh_s: float) -> list[str]:
    return [sys.executable, "-m", "gb10dash", "--config", str(config), "tui", "--refresh", str(refresh_s)]


def observe(windows: dict[str, CpuWindow], seconds: float, tick: Callable[[], None] = lambda: None) -> None:
    for w in windows.values():
        w.start()
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        for w in windows.values():
            w.sample()
        tick()
    for w in windows.values():
        w.stop()


def dashboard_and_llamastat(lab: Lab, work: Path, seconds: float, settle: float, refresh_s: float, size: str) -> Window:
    llamastat = BIN / "llamastat"
    with Tmux("bench-dash", dashboard_argv(lab.config_path, refresh_s), size, DASHBOARD_ENV) as dash:
        stat_tmux = (
            Tmux("bench-llamastat", [str(llamastat), "-u", lab.hosts[0].api_url, "-i", str(refresh_s)], size)
            if llamastat.exists()
            else None
        )
        try:
            pids = {"dashboard": dash.pid()}
            if stat_tmux is not None:
                pids["llamastat"] = stat_tmux.pid()
            time.sleep(settle)
            windows = {name: CpuWindow(pid) for name, pid in pids.items()}
            with RemoteCost(lab, work / "remote-dashboard") as remote:
                observe(windows, seconds)
        finally:
            if stat_tmux is not None:
                stat_tmux.kill()
    clients = [
        ClientCost(
            "dashboard",
            windows["dashboard"].percent,
            windows["dashboard"].rss_max,
            f"{len(lab.hosts)} hosts, {refresh_s:g} s refresh, tmux {size}",
        )
    ]
    if "llamastat" in windows:
        clients.append(
            ClientCost(
                "llamastat",
                windows["llamastat"].percent,
                windows["llamastat"].rss_max,
                f"1 host ({lab.hosts[0].name}), -i {refresh_s:g}",
            )
        )
    else:
        clients.append(
            ClientCost("llamastat", float("nan"), float("nan"), "not installed: pip install -r bench/requirements.txt")
        )
    return Window(clients, remote.results)


def naive(lab: Lab, work: Path, seconds: float, settle: float, refresh_s: float) -> Window:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "naive_collector.py"),
            "--config",
            str(lab.config_path),
            "--seconds",
            str(seconds + settle + 5),
            "--fast",
            str(refresh_s),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(settle)
        window = CpuWindow(proc.pid, children=True)
        with RemoteCost(lab, work / "remote-naive") as remote:
            observe({"naive": window}, seconds)
    finally:
        proc.terminate()
        proc.wait(10)
    return Window(
        [
            ClientCost(
                "naive collector",
                window.percent,
                window.rss_max,
                f"{len(lab.hosts)} hosts, ssh per source per poll (CPU incl. its ssh children)",
            )
        ],
        remote.results,
    )


def fleet_cpu(config: Path, seconds: float, settle: float, refresh_s: float, size: str) -> ClientCost:
    with Tmux("bench-fleet", dashboard_argv(config, refresh_s), size, DASHBOARD_ENV) as dash:
        pid = dash.pid()
        time.sleep(settle)
        window = CpuWindow(pid)
        observe({"fleet": window}, seconds)
    return ClientCost("dashboard, fleet", window.percent, window.rss_max, f"tmux {size}")


def first_frame(config: Path, trials: int, size: str, timeout: float = 30.0) -> list[float]:
    """Launch → the terminal shows the app's first frame (any text on the tmux pane), seconds."""
    times = []
    for _ in range(trials):
        with Tmux("bench-first", dashboard_argv(config, 1.0), size, DASHBOARD_ENV) as term:
            pid = term.pid()
            while not term.capture().strip():
                if time.monotonic() - term.started > timeout:
                    raise TimeoutError("bench: the dashboard drew nothing")
                time.sleep(0.01)
            times.append(time.monotonic() - term.started)
        _ended_with_its_terminal(pid)
    return times


def _ended_with_its_terminal(pid: int, timeout: float = 15.0) -> None:
    """A dashboard whose terminal was closed (tmux kill-session: SIGHUP) must end; one left polling the lab
    would load every row measured after it (it happened: two stayed until the run's end)."""
    deadline = time.monotonic() + timeout
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise RuntimeError(f"bench: the dashboard (pid {pid}) outlived its closed terminal by {timeout:g} s")
        time.sleep(0.05)


@dataclass
class Busy:
    cost: ClientCost
    requests: dict[str, int]  # host -> requests completed in the window
    tokens_per_s: dict[str, float]  # host -> tokens generated per second of the window (the servers' own count)
    failed: dict[str, str]  # host -> the last request that failed, if any did


def _generate(
    url: str, stop: threading.Event, done: dict[str, int], failed: dict[str, str], host: str, most: int
) -> None:
    """Requests one after another (each 256 tokens, ignore_eos) until `stop`: a server always generating.
    Bounded: at most `most` requests, each with a 60 s timeout; a failed one is noted and the next sent
    after a pause."""
    body = {
        "prompt": "Count slowly from one to one thousand.",
        "n_predict": 256,
        "cache_prompt": False,
        "ignore_eos": True,
    }
    with httpx.Client(timeout=60, trust_env=False) as client:
        for _ in range(most):
            if stop.is_set():
                return
            try:
                client.post(f"{url}/completion", json=body).raise_for_status()
                done[host] += 1
            except httpx.HTTPError as exc:
                failed[host] = f"{type(exc).__name__}: {exc}"
                stop.wait(0.5)


def _predicted_total(url: str) -> float:
    """llamacpp:tokens_predicted_total from the server's /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=10, trust_env=False).text
    return next(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith("llamacpp:tokens_predicted_total")
    )


def _systemctl(lab: Lab, host: str, *argv: str) -> str:
    """The light lab host's systemctl shim, as the host's root would run it."""
    paths = lab.layout.host(host)
    env = dict(os.environ, GB10LAB_ROOT=str(paths.root), PATH=f"{paths.bin}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        [str(paths.bin / "systemctl"), *argv], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


@contextmanager
def one_thread_each(lab: Lab) -> Iterator[None]:
    """Every lab llama-server restarted with `-t 1` (a drop-in), put back after. On a 2-core machine two
    servers generating at once with a thread per core starve each other (llama.cpp's threads spin):
    one of them finished no request in 25 s. With one thread each, both generate all the time."""
    dropins = []
    try:
        for host in lab.hosts:
            shown = _systemctl(lab, host.name, "show", "llama-server", "-p", "ExecStart", "--value")
            argv = shown.split("argv[]=")[1].split(" ;")[0].split()
            path = lab.layout.host(host.name).dropin_dir / "bench-one-thread.conf"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("[Service]\nExecStart=\nExecStart=" + shlex.join([*argv, "-t", "1"]) + "\n")
            dropins.append((host.name, path))
            _systemctl(lab, host.name, "daemon-reload")
            _systemctl(lab, host.name, "restart", "llama-server")
        lab.wait_ready(120)
        yield
    finally:
        for name, path in dropins:
            path.unlink(missing_ok=True)
            _systemctl(lab, name, "daemon-reload")
            _systemctl(lab, name, "restart", "llama-server")
        lab.wait_ready(120)


def busy(lab: Lab, seconds: float, settle: float, refresh_s: float, size: str, max_requests: int = 5000) -> Busy:
    """The dashboard (tmux) while every lab host generates without a pause (`-t 1` each): its CPU over the window."""
    with one_thread_each(lab):
        return _busy(lab, seconds, settle, refresh_s, size, max_requests)


def _busy(lab: Lab, seconds: float, settle: float, refresh_s: float, size: str, max_requests: int) -> Busy:
    urls = {host.name: host.api_url for host in lab.hosts}
    stop, done, failed = threading.Event(), dict.fromkeys(urls, 0), dict[str, str]()
    threads = [
        threading.Thread(target=_generate, args=(url, stop, done, failed, name, max_requests), daemon=True)
        for name, url in urls.items()
    ]
    with Tmux("bench-busy", dashboard_argv(lab.config_path, refresh_s), size, DASHBOARD_ENV) as dash:
        pid = dash.pid()
        try:
            for thread in threads:
                thread.start()
            time.sleep(settle)
            window = CpuWindow(pid)
            before = {name: _predicted_total(url) for name, url in urls.items()}
            counted = dict(done)
            observe({"busy": window}, seconds)
            after = {name: _predicted_total(url) for name, url in urls.items()}
            requests = {name: done[name] - counted[name] for name in urls}
        finally:
            stop.set()
            for thread in threads:
                thread.join(70)
    rates = {name: (after[name] - before[name]) / window.seconds for name in urls}
    cost = ClientCost("dashboard, busy", window.percent, window.rss_max, f"{len(urls)} hosts generating, tmux {size}")
    return Busy(cost, requests, rates, failed)
