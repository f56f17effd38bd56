"""python -m gb10dash.lab start|stop|status [--dir DIR] [--timeout S] [--real | --light]

The real-hosts lab (the default where it can boot: root, systemd-container and sudo): each host a
Debian container booted by systemd-nspawn (real systemd, journald, sshd and sudo; login llm-agent).
The light lab (--light, and the fallback without root): sshd and llama-server real, stand-ins for
systemctl, journalctl and sudo, the login the user running it."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from gb10dash.cli.options import lab_kind
from gb10dash.lab.container import ContainerError
from gb10dash.lab.hosts_lab import HostsLab, can_boot
from gb10dash.lab.lab import Lab
from gb10dash.lab.llama_bin import LlamaServerNotFound


def _say(msg: str) -> None:
    print(f"lab: {msg}", flush=True)


def _status(lab: Lab | HostsLab) -> int:
    running = lab.is_running()
    print(f"lab {'running' if running else 'stopped'} in {lab.root}")
    if running:
        for h in lab.hosts:
            print(f"  {h.name:8} ssh {h.alias} (127.0.0.1:{h.ssh_port})  api {h.api_url}  model {h.model_path.name}")
        print(f"GB10DASH_CONFIG={shlex.quote(str(lab.config_path))}")
    return 0 if running else 3


def choose_lab(kind: str | None, lab_dir: str | None, say=_say) -> Lab | HostsLab:
    """The lab asked for: "real", "light", or None (real where it can boot, else light, saying why)."""
    if kind is None:
        why = can_boot()
        if why:
            say(f"the light lab ({why}; the real-hosts lab needs it)")
        kind = "light" if why else "real"
    return HostsLab(lab_dir, progress=say) if kind == "real" else Lab(lab_dir, progress=say)


def running_lab(kind: str | None, lab_dir: str | None) -> Lab | HostsLab:
    """For stop and status without a kind: the one that is running (the real-hosts lab if neither)."""
    if kind is not None:
        return choose_lab(kind, lab_dir)
    real, light = HostsLab(lab_dir, progress=_say), Lab(lab_dir, progress=_say)
    return light if light.is_running() and not real.is_running() else real


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gb10dash.lab", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument(
        "--dir", metavar="DIR", help="lab directory (default: $GB10DASH_LAB_DIR or $XDG_STATE_HOME/gb10dash/lab)"
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for llama-server")
    lab_kind(parser)  # --real / --light, as `gb10dash lab` and `gb10dash demo` take them
    args = parser.parse_args(argv)
    lab = choose_lab(args.kind, args.dir) if args.action == "start" else running_lab(args.kind, args.dir)
    t0 = time.monotonic()
    try:
        if args.action == "start":
            lab.start()
            lab.wait_ready(args.timeout)
            _say(f"ready in {time.monotonic() - t0:.1f}s")
            print(f"export GB10DASH_CONFIG={shlex.quote(str(lab.config_path))}")
            print(f"ssh -F {shlex.quote(str(lab.ssh_config_path))} pegasus-llm")
            return 0
        if args.action == "stop":
            _say("stopped" if lab.stop() else "was not running")
            return 0
        return _status(lab)
    except LlamaServerNotFound as e:
        print(e, file=sys.stderr)
        return 2
    except (RuntimeError, TimeoutError, ContainerError) as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
