"""Append lines to the lab journal as if UNIT's main process had printed them (tests, demos).

Usage: python -m gb10dash.lab.shims.journal_append UNIT MESSAGE...   (one entry per MESSAGE; `-` reads stdin lines)
Prints the cursor of each entry written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .common import lab_root, pid_alive, run_main
from .journal import Journal, stdout_fields, unit_meta
from .unitfile import unit_name
from .unitstate import read_state


def append_unit_lines(unit: str, messages: list[str | bytes], root: Path | None = None) -> list[str]:
    """Journal `messages` as stdout lines of `unit` (its MainPID when running); returns their cursors."""
    unit = unit_name(unit)
    root = root or lab_root()
    state = read_state(unit, root)
    cfg = state["config"]
    argv = state["exec_argv"] or (cfg["exec_start"][0]["argv"] if cfg.get("exec_start") else [unit])
    pid = state["main_pid"] if pid_alive(state["main_pid"]) else os.getpid()
    meta = unit_meta(
        unit, argv, pid if pid != os.getpid() else -1, state["invocation_id"], cfg.get("syslog_identifier", "")
    )
    return Journal(root).append([stdout_fields(meta, pid, m) for m in messages])


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    messages: list[str | bytes] = []
    for arg in argv[1:]:
        if arg == "-":
            messages += [line.rstrip(b"\n") for line in sys.stdin.buffer]
        else:
            messages.append(os.fsencode(arg))
    for cursor in append_unit_lines(argv[0], messages):
        print(cursor)
    return 0


if __name__ == "__main__":
    run_main(main)
