"""`gb10dash demo` and `gb10dash lab ...`: the local lab of real parts, for people without GB10s."""

from __future__ import annotations

import signal
import sys
import time

from gb10dash.config import load_config


def _say(message: str) -> None:
    print(f"lab: {message}", file=sys.stderr, flush=True)


def run_lab_command(action: str, lab_dir: str | None, kind: str | None = None) -> int:
    from gb10dash.lab.__main__ import main as lab_main

    return lab_main([action] + (["--dir", lab_dir] if lab_dir else []) + ([f"--{kind}"] if kind else []))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_demo(lab_dir: str | None, *, keep: bool, refresh: float, text: bool, kind: str | None = None) -> int:
    from gb10dash.cli.status import run_watch
    from gb10dash.lab import LlamaServerNotFound
    from gb10dash.lab.__main__ import choose_lab
    from gb10dash.lab.container import ContainerError

    # a closed terminal (SIGHUP) or a kill (SIGTERM) must still stop the lab: finally below runs
    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, _interrupt)

    lab = choose_lab(kind, lab_dir, _say)
    started_at = time.monotonic()
    try:
        started_now = lab.start()
        _say("waiting for both llama-servers to answer /health")
        lab.wait_ready(120.0)
    except LlamaServerNotFound as exc:
        print(exc, file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError, OSError, ContainerError) as exc:
        print(f"lab: could not start: {exc}", file=sys.stderr)
        lab.stop()
        return 1
    _say(f"ready in {time.monotonic() - started_at:.1f} s; config {lab.config_path}")
    from gb10dash.lab.traffic import chat_now_and_then

    urls = [host.api_url for host in lab.hosts]
    config = load_config(lab.config_path)
    try:
        if text:
            return run_watch(config, [], interval=max(refresh, 1.0), while_watching=lambda: chat_now_and_then(urls))
        from gb10dash.ui.app import Gb10DashApp
        from gb10dash.ui.exit_watchdog import ExitWatchdog

        # a hung exit (the terminal gone) still stops the lab this command started; a finished one leaves
        # that to the finally below
        with ExitWatchdog(last_words=None if keep or not started_now else lab.stop) as watchdog:
            Gb10DashApp(config, refresh_s=refresh, background=lambda: chat_now_and_then(urls), watchdog=watchdog).run()
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        if keep or not started_now:
            _say(
                "lab left running (stop it with: gb10dash lab stop" + (f" --lab-dir {lab_dir}" if lab_dir else "") + ")"
            )
        else:
            _say("stopping the lab")
            lab.stop()
