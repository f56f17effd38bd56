"""The commands that need no config: `lab` (start, stop or inspect the local lab) and `demo` (the lab
and the dashboard on it)."""

from __future__ import annotations

import argparse

from gb10dash.cli import options
from gb10dash.cli.options import Commands


def add(commands: Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="start the local lab (as root: two Debian containers with real "
        "systemd, journald, sshd, sudo and llama-server; else the light lab) "
        "and open the dashboard on it; stops the lab on exit",
    )
    options.lab_dir(demo, "where the lab lives (default: XDG state dir)")
    options.lab_kind(demo)
    demo.add_argument("--keep", action="store_true", help="leave the lab running on exit")
    options.refresh(demo)
    demo.add_argument("--text", action="store_true", help="the plain-text view instead of the dashboard")
    demo.set_defaults(run_without_config=run_demo)

    lab = commands.add_parser("lab", help="start, stop or inspect the local lab")
    lab.add_argument("action", choices=("start", "stop", "status"))
    options.lab_dir(
        lab,
        "where the lab lives (default: ~/.local/state/gb10dash/lab-hosts for the real-hosts lab, .../lab for "
        "the light one; $GB10DASH_LAB_DIR moves both)",
    )
    options.lab_kind(lab)
    lab.set_defaults(run_without_config=run_lab)


def run_demo(args: argparse.Namespace) -> int:
    from gb10dash.cli.lab_commands import run_demo

    return run_demo(args.lab_dir, keep=args.keep, refresh=args.refresh, text=args.text, kind=args.kind)


def run_lab(args: argparse.Namespace) -> int:
    from gb10dash.cli.lab_commands import run_lab_command

    return run_lab_command(args.action, args.lab_dir, args.kind)
