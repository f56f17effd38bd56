"""python -m gb10dash.lab start|stop|status [--dir DIR] [--timeout S] [--real]

--real: the real-hosts lab, each host a Debian container booted by systemd-nspawn (real systemd,
journald, sshd and sudo; login llm-agent); without it, the shim lab (sshd and llama-server real,
systemctl/journalctl/sudo stand-ins)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from gb10dash.lab.container import ContainerError
from gb10dash.lab.hosts_lab import HostsLab
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gb10dash.lab", description=__doc__)
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--dir", metavar="DIR", help="lab directory (default: $GB10DASH_LAB_DIR or "
                                                     "$XDG_STATE_HOME/gb10dash/lab)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for llama-server")
    parser.add_argument("--real", action="store_true",
                        help="real hosts: a systemd-nspawn container per host (needs root, systemd-container, "
                             "sudo; default dir $XDG_STATE_HOME/gb10dash/lab-hosts)")
    args = parser.parse_args(argv)
    lab: Lab | HostsLab = HostsLab(args.dir, progress=_say) if args.real else Lab(args.dir, progress=_say)
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
