"""`gb10dash serve` under test: the server process, and the page in a real headless Chromium.

xterm.js draws on a canvas, so the page has no text to read: the terminal output the app sends over the
websocket is fed to pyte, whose screen gives the lines the browser shows."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil
import pytest

from gb10dash.lab import Lab
from gb10dash.lab.sshd import free_port

CHROMIUM = "/usr/bin/chromium"
TOK_S = re.compile(r"\d[\d,]*(\.\d+)? tok/s")  # a figure, e.g. the log's "gen 1,843.8 tok/s" badge


def serve_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "gb10dash", "serve", *args]


def serve_env(lab: Lab) -> dict[str, str]:
    return dict(os.environ, GB10DASH_CONFIG=str(lab.config_path))


@contextmanager
def served(
    lab: Lab, *args: str, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[tuple[str, psutil.Popen]]:
    """`gb10dash serve --port P *args` on 127.0.0.1: yields (url, process) once it listens; stopped after.
    `env`: variables added to the server's environment (its session apps inherit them)."""
    port = free_port()
    proc = psutil.Popen(
        serve_argv("--port", str(port), *args),
        env={**serve_env(lab), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not _listening(port):
            if proc.poll() is not None:
                raise AssertionError(f"gb10dash serve exited {proc.returncode}: {proc.stdout.read()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"gb10dash serve not listening on {port} after {timeout:g} s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)  # with pages still open too: their apps are asked to quit, killed after 10 s
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise AssertionError("gb10dash serve did not stop within 20 s of SIGTERM") from None


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def session_apps(server: psutil.Process) -> list[psutil.Process]:
    """The app processes the server started for browser sessions (`gb10dash ... tui`)."""
    apps = []
    for child in server.children(recursive=True):
        try:
            argv = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "gb10dash" in argv and "tui" in argv:
            apps.append(child)
    return apps


def require_chromium() -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium (scripts/setup --test does)", pytrace=False)


class BrowserTerminal:
    """What the page's terminal shows, rebuilt from the websocket frames the app sends."""

    def __init__(self, page) -> None:
        import pyte

        self.page = page
        self._pyte = pyte
        self.screen: pyte.Screen | None = None
        self._stream = None
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        query = parse_qs(urlsplit(ws.url).query)
        self.screen = self._pyte.Screen(int(query["width"][0]), int(query["height"][0]))
        self._stream = self._pyte.ByteStream(self.screen)
        ws.on("framereceived", self._frame)

    def _frame(self, payload: bytes | str) -> None:
        if isinstance(payload, bytes) and self._stream is not None:  # text frames are textual-serve's pings
            self._stream.feed(payload)

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display) if self.screen else ""

    def wait_for(self, predicate: Callable[[str], object], timeout: float, what: str) -> str:
        """Pumps the browser's events until predicate(text) holds; the screen goes in the failure message."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.text):
                return self.text
            self.page.wait_for_timeout(200)  # Playwright delivers websocket frames while it waits
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; the page showed:\n{self.text}")

    def press(self, key: str) -> None:
        self.page.focus(".xterm-helper-textarea")
        self.page.keyboard.press(key)


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's headless Chromium (no browser download), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, width: int = 1600, height: int = 1000) -> tuple[object, BrowserTerminal]:
    """A page whose terminal is read through pyte; requests off 127.0.0.0/8 are refused."""
    page = browser.new_page(viewport={"width": width, "height": height})
    # textual-serve's page asks Google Fonts for a font: refused here, tests talk to 127.0.0.0/8 only
    page.route(re.compile(r"^https?://(?!127\.)"), lambda route: route.abort())
    return page, BrowserTerminal(page)


@contextmanager
def browser_page(width: int = 1600, height: int = 1000) -> Iterator[tuple[object, BrowserTerminal]]:
    with chromium() as browser:
        yield new_page(browser, width, height)


def save_screenshot(page, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    return path
