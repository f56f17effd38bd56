"""Command line: `gb10dash [--config PATH] COMMAND ...`.

Exit codes: 0 all healthy / success, 1 some host degraded, 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gb10dash import __version__
from gb10dash.cli import acting, lab, usage, watching
from gb10dash.config import Config, ConfigError, find_config_path, load_config
from gb10dash.ui.theme_error import ThemeError

EXIT_OK, EXIT_DEGRADED, EXIT_CONFIG = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gb10dash",
        description="Watch GB10 hosts serving LLMs with llama-server: unit, log, GPU, memory, "
        "model share and the llama-server API, over one SSH connection per host.",
        epilog="Config lookup: --config PATH, $GB10DASH_CONFIG, $XDG_CONFIG_HOME/gb10dash/hosts.toml, "
        "./hosts.toml. Exit codes: 0 healthy, 1 degraded, 2 config or usage error; an action (restart, "
        "swap, rebuild, drop-caches, recover) stopped by SIGTERM, SIGHUP or SIGINT: 3 when what it had "
        "changed was undone, 4 when the undo failed (then `gb10dash recover HOST`).",
    )
    parser.add_argument("--version", action="version", version=f"gb10dash {__version__}")
    parser.add_argument("--config", metavar="PATH", help="hosts.toml to use")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    watching.add(commands)
    acting.add(commands)
    usage.add(commands)
    lab.add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # the dashboard is the default command
        args = parser.parse_args([*(argv if argv is not None else sys.argv[1:]), "tui"])
    try:
        if hasattr(args, "run_without_config"):
            return int(args.run_without_config(args))
        config = _load(args.config)
        named = getattr(args, "hosts", None) or ([args.host] if getattr(args, "host", None) else [])
        for name in named:
            config.host(name)  # raises ConfigError naming the known hosts
        return int(args.run(args, config))
    except ConfigError as exc:
        print(f"gb10dash: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ThemeError as exc:
        print(f"gb10dash: theme error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


def _load(explicit: str | None) -> Config:
    return load_config(find_config_path(explicit))
