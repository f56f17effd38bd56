"""Rows measured on the real app driven headless by Textual's pilot (widget state read directly).

- freshness: `systemctl stop` on a host → its panel turns degraded (and its service line shows
  the unit stopped), p95 over N trials;
- all panels populated: App start → every source of every host shown at least once;
- tok/s accuracy: the gen tok/s the panel shows against the server's own `timings` of each request;
- key-to-screen: a key press → the frame that shows its effect (the app's post-display hook).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from gb10dash.config import Config
from gb10dash.lab import Lab
from gb10dash.ui import app as app_module
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.widgets.host_grid import HostGrid

SIZE = (160, 48)
#: the sources a fully populated panel has seen
SOURCES = ("unit", "journal", "gpu", "gpu_apps", "memory", "mount", "health", "api")


class TimedApp(Gb10DashApp):
    """The product's app, noting when each frame has been composed (after the screen update)."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))  # relative paths follow the subclass

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames = 0
        self.expect_host: str | None = None
        self.shown_at: float | None = None

    def post_display_hook(self) -> None:
        self.frames += 1
        if self.expect_host is not None and self.shown_at is None and self.focused_host == self.expect_host:
            self.shown_at = time.perf_counter()


def run_row(coro, grace_s: float = 5.0):
    """Run one pilot row on its own event loop. Tasks the app leaves behind are cancelled and given
    `grace_s`; those still pending then are named on stderr and abandoned (asyncio.run would wait
    for them forever)."""
    loop = asyncio.new_event_loop()
    try:
        result = loop.run_until_complete(coro)
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in left:
            task.cancel()
        if left:
            _, stuck = loop.run_until_complete(asyncio.wait(left, timeout=grace_s))
            for task in stuck:
                print(
                    f"bench: a task ignored cancellation for {grace_s:g} s after the app exited: {task.get_coro()}",
                    file=sys.stderr,
                )
        return result
    finally:
        asyncio.set_event_loop(None)  # the loop is left open: closing it would need the stuck tasks


async def until(predicate, timeout: float, what: str, interval: float = 0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(interval)
    raise TimeoutError(f"bench: no {what} within {timeout:g} s")


def populated(app: Gb10DashApp) -> bool:
    return all(
        name in app.shown and all((s := app.shown[name].sources.get(src)) and s.last_ok for src in SOURCES)
        for name in app.host_names
    )


def healthy_shown(app: Gb10DashApp, host: str) -> bool:
    state = app.shown.get(host)
    return bool(state and state.healthy and state.unit and state.unit.is_running)


async def systemctl(lab: Lab, host: str, action: str) -> None:
    paths = lab.layout.host(host)
    env = dict(os.environ, GB10LAB_ROOT=str(paths.root), PATH=f"{paths.bin}{os.pathsep}{os.environ['PATH']}")
    proc = await asyncio.create_subprocess_exec(
        str(paths.bin / "systemctl"),
        action,
        "llama-server.service",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        _, err = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"{host}: systemctl {action} failed: {err.decode().strip()}")


@dataclass
class Freshness:
    degraded_s: list[float] = field(default_factory=list)  # panel turns degraded
    unit_s: list[float] = field(default_factory=list)  # the service line shows the unit stopped


async def freshness(config: Config, lab: Lab, host: str, trials: int, refresh_s: float) -> Freshness:
    out = Freshness()
    app = TimedApp(config, refresh_s=refresh_s)
    async with app.run_test(size=SIZE):
        panel = app.query_one(HostGrid).panel(host)
        for _ in range(trials):
            await until(lambda: healthy_shown(app, host) and not panel.has_class("-degraded"), 60, "healthy panel")
            await asyncio.sleep(random.uniform(0.2, 1.2))  # a random phase against the poll ticks
            t0 = time.monotonic()
            try:
                await systemctl(lab, host, "stop")
                await until(lambda: panel.has_class("-degraded"), 30, "degraded panel")
                out.degraded_s.append(time.monotonic() - t0)
                await until(lambda: (u := app.shown[host].unit) and not u.is_running, 30, "stopped unit")
                out.unit_s.append(time.monotonic() - t0)
            finally:  # 20 stops and starts in a few seconds each: past systemd's StartLimitBurst
                await systemctl(lab, host, "reset-failed")
                await systemctl(lab, host, "start")
    return out


async def populate(config: Config, trials: int, refresh_s: float) -> list[float]:
    times = []
    for _ in range(trials):
        t0 = time.monotonic()
        app = TimedApp(config, refresh_s=refresh_s)
        async with app.run_test(size=SIZE):
            await until(lambda app=app: populated(app), 60, "populated panels")
            times.append(time.monotonic() - t0)
    return times


@dataclass
class Accuracy:
    pairs: list[tuple[float, float]] = field(default_factory=list)  # (server timings, dashboard) tok/s
    source: str = ""

    @property
    def errors(self) -> list[float]:
        return [abs(shown / server - 1) for server, shown in self.pairs]


async def tokps_accuracy(config: Config, host: str, requests: int, refresh_s: float, max_tokens: int = 96) -> Accuracy:
    """Requests one after another, each given time for one poll to see it alone; compare figures."""
    out = Accuracy()
    url = config.host(host).api_url
    app = TimedApp(config, refresh_s=refresh_s)
    async with app.run_test(size=SIZE), httpx.AsyncClient(timeout=60, trust_env=False) as client:
        await until(lambda: healthy_shown(app, host), 60, "healthy panel")
        for number in range(requests):
            body = {
                "prompt": f"Request {number}: count slowly from one to one hundred.",
                "n_predict": max_tokens,
                "cache_prompt": False,
                "ignore_eos": True,
            }
            response = await client.post(f"{url}/completion", json=body)
            timings = json.loads(response.text)["timings"]
            done = time.time()
            rate = await until(
                lambda done=done: (g := app.monitors[host].state.throughput.gen) and g.at > done and g,
                5 + 2 * refresh_s,
                "a gen tok/s figure after the request",
            )
            await asyncio.sleep(refresh_s * 1.1)  # the figure reaches the panel at the next refresh
            shown = app.shown[host].throughput.gen
            if shown is not None and shown.at >= rate.at:
                out.pairs.append((timings["predicted_per_second"], shown.tokens_per_second))
                out.source = shown.source.value
            await asyncio.sleep(refresh_s)  # the next request lands in another poll interval
    return out


async def key_to_screen(
    config: Config, presses: int, refresh_s: float, settle_s: float, flood: Flood | None = None
) -> list[float]:
    """`n` (focus the next host) → the frame showing the new focus, while the monitors stream; with
    `flood`, while its lines pour into one host's journal (started after the settle, stopped at the end)."""
    app = TimedApp(config, refresh_s=refresh_s)
    latencies = []
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.shown) == len(app.host_names), 60, "every panel drawn once")
        await asyncio.sleep(settle_s)
        if flood is not None:
            flood.start()
            await asyncio.sleep(settle_s)  # the pane holds a full log of flood lines before the first press
        try:
            await _presses(app, pilot, presses, latencies)
        finally:
            if flood is not None:
                flood.stop()
    return latencies


class Flood:
    """Lines at `rate` a second into `root`'s llama-server journal, on a thread, bounded by `max_s`."""

    def __init__(self, root: Path, rate: int, max_s: float = 300.0):
        self.root, self.rate, self.max_s = root, rate, max_s
        self.written = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from bench.flood import flood

        def run() -> None:
            self.written = flood(self.root, f"flood-{time.time_ns()}", self.rate, self.max_s, self._stop)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


async def _presses(app: TimedApp, pilot, presses: int, latencies: list[float]) -> None:
    names = app.host_names
    for _ in range(presses):
        app.expect_host = names[(names.index(app.focused_host) + 1) % len(names)]
        app.shown_at = None
        t0 = time.perf_counter()
        await pilot.press("n")
        await until(lambda: app.shown_at is not None, 5, "the frame after the key", interval=0.001)
        latencies.append(app.shown_at - t0)  # type: ignore[operator]
        app.expect_host = None
        await asyncio.sleep(random.uniform(0.05, 0.3))
