"""The options several commands share, defined once; each command module registers its sub-parser
with `set_defaults(run=...)`, the function that runs it (args, config) → exit code."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gb10dash.config import Config

#: a command's runner: the parsed arguments and the loaded config → the exit code
Runner = Callable[[argparse.Namespace, Config], int]
#: a command that runs before (or without) a config: the lab, the demo
NoConfigRunner = Callable[[argparse.Namespace], int]
Commands = Any  # argparse's _SubParsersAction (private in typeshed)


def hosts(command: argparse.ArgumentParser, *, required: bool = False) -> None:
    if required:
        command.add_argument("hosts", nargs="+", metavar="HOST")
    else:
        command.add_argument("hosts", nargs="*", metavar="HOST", help="only these hosts (default: all)")


def one_host(command: argparse.ArgumentParser) -> None:
    command.add_argument("host", metavar="HOST")


def yes(command: argparse.ArgumentParser) -> None:
    command.add_argument("--yes", action="store_true", help="run without asking")


def as_json(command: argparse.ArgumentParser, schema: str) -> None:
    command.add_argument("--json", action="store_true", help=f"JSON output ({schema})")


def refresh(command: argparse.ArgumentParser, help: str = "refresh interval (default 1)") -> None:
    command.add_argument("--refresh", type=float, default=1.0, metavar="S", help=help)


def timeout(command: argparse.ArgumentParser, help: str) -> None:
    command.add_argument("--timeout", type=float, default=300.0, metavar="S", help=help)


def lab_dir(command: argparse.ArgumentParser, help: str) -> None:
    command.add_argument("--lab-dir", metavar="DIR", help=help)


def lab_kind(command: argparse.ArgumentParser) -> None:
    kind = command.add_mutually_exclusive_group()
    kind.add_argument(
        "--real",
        dest="kind",
        action="store_const",
        const="real",
        help="the real-hosts lab: each host a Debian container booted by systemd-nspawn (real systemd, "
        "journald, sshd, sudo; login llm-agent); needs root, systemd-container, sudo. The default "
        "where it can boot",
    )
    kind.add_argument(
        "--light",
        dest="kind",
        action="store_const",
        const="light",
        help="the light lab: real sshd and llama-server, stand-ins for systemctl, journalctl, sudo and "
        "nvidia-smi (no root needed; the fallback without root)",
    )
