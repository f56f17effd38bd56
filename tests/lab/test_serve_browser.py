"""`gb10dash serve` against the lab, opened in a real headless Chromium (Debian's), driven with Playwright."""

from __future__ import annotations

import subprocess

import httpx
import psutil

from gb10dash.lab import Lab
from gb10dash.lab.sshd import free_port

from . import labctl
from .servectl import (
    TOK_S,
    browser_page,
    save_screenshot,
    serve_argv,
    serve_env,
    served,
    session_apps,
)

PANELS_SHOWN = 60.0  # first frame and both hosts populated, on a loaded 2-core machine
WS_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def main_pid(lab: Lab, host: str) -> int:
    shown = labctl.shim(lab, host, "systemctl", "show", "llama-server", "-p", "MainPID", "--value")
    return int(shown.stdout.strip())


def both_panels(text: str) -> bool:
    return "pegasus" in text and "stella" in text and text.count("active/running") >= 2 and "ok" in text


def chat_once(lab: Lab) -> None:
    """One short completion per lab host, so the log shows a tok/s figure."""
    with httpx.Client(timeout=60, trust_env=False) as client:
        for host in lab.hosts:
            body = {"messages": [{"role": "user", "content": "Count to five."}], "max_tokens": 16}
            client.post(f"{host.api_url}/v1/chat/completions", json=body).raise_for_status()


def test_the_dashboard_in_chromium_behind_a_token(lab: Lab, tmp_path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token-for-the-browser-test\n")
    token_file.chmod(0o600)
    with served(lab, "--token-file", str(token_file)) as (url, server):
        with httpx.Client(trust_env=False, timeout=10) as client:
            assert client.get(f"{url}/").status_code == 401
            assert client.get(f"{url}/", params={"token": "wrong-token-wrong-token"}).status_code == 403
            assert client.get(f"{url}/ws", headers=WS_HEADERS).status_code == 401
            client.cookies.set("gb10dash_token", token_file.read_text().strip())
            assert client.get(f"{url}/ws", headers={**WS_HEADERS, "Origin": "http://evil.example"}).status_code == 403
        assert session_apps(server) == []  # nothing refused got an app process

        with browser_page() as (page, term):
            assert page.goto(f"{url}/").status == 401
            page.goto(f"{url}/?token={token_file.read_text().strip()}")
            assert "token" not in page.url  # swapped for a cookie, out of the address bar
            page.wait_for_selector("body.-first-byte", timeout=30_000)
            term.wait_for(both_panels, PANELS_SHOWN, "both host panels")
            chat_once(lab)
            text = term.wait_for(lambda t: TOK_S.search(t), 30, "a tok/s figure")
            save_screenshot(page, tmp_path / "serve.png")
            assert "gpt-oss-120b" in text and "Qwen_Qwen3-8B" in text
            assert text.count("active/running") >= 2  # both units' state, as systemd words it
            apps = session_apps(server)
            assert len(apps) == 1, "one app process for the one browser session"
        psutil.wait_procs(apps, timeout=30)  # asked to quit; killed 10 s later if it has not
        assert not any(app.is_running() for app in apps), "the session's app outlived its closed page"
    assert (tmp_path / "serve.png").stat().st_size > 10_000


def test_read_only_r_and_d_change_nothing_on_the_host(lab: Lab, tmp_path) -> None:
    state = tmp_path / "state"  # the session app's audit log would be written here
    with (
        browser_page() as (page, term),
        served(lab, "--read-only", "--max-sessions", "1", env={"XDG_STATE_HOME": str(state)}) as (url, server),
    ):
        page.goto(f"{url}/")
        page.wait_for_selector("body.-first-byte", timeout=30_000)
        term.wait_for(both_panels, PANELS_SHOWN, "both host panels")
        before = main_pid(lab, "pegasus")
        term.press("r")
        term.press("y")  # would confirm the restart plan if one were shown
        text = term.wait_for(lambda t: "restart is disabled" in t, 15, "the read-only refusal")
        save_screenshot(page, tmp_path / "read-only.png")
        assert "started with gb10dash" in text and "--read-only" in text  # the notification says why
        page.wait_for_timeout(2000)  # a restart, had one started, would have stopped the process by now
        assert main_pid(lab, "pegasus") == before
        term.press("D")  # drop caches: the plan was shown and ran here before the registry's one check
        term.press("y")
        term.wait_for(lambda t: "drop caches is disabled" in t, 15, "the read-only refusal of D")
        page.wait_for_timeout(2000)
        assert not (state / "gb10dash" / "audit.jsonl").exists(), "a read-only session ran a plan"
        with httpx.Client(trust_env=False, timeout=10) as client:  # a second session is over --max-sessions 1
            assert client.get(f"{url}/ws", headers=WS_HEADERS).status_code == 503
        apps = session_apps(server)
        assert len(apps) == 1
    # the server was stopped with the page still open: it ended the session's app on its way out
    psutil.wait_procs(apps, timeout=30)
    assert not any(app.is_running() for app in apps)


def test_a_non_loopback_bind_needs_read_only_or_a_token(lab: Lab) -> None:
    port = free_port()
    done = subprocess.run(
        serve_argv("--host", "0.0.0.0", "--port", str(port)),
        env=serve_env(lab),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert "refusing to bind 0.0.0.0" in done.stderr and "--read-only" in done.stderr
    assert "--token-file" in done.stderr and "ssh -L" in done.stderr
    assert done.stdout == ""  # no server was started
