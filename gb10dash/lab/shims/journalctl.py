"""journalctl shim: -u UNIT, -o json|short|short-iso|short-unix|short-precise|cat, -n N, -f, --after-cursor,
--cursor, --since/--until, -a, -q, --no-pager (ignored), -b (ignored)."""

from __future__ import annotations

import select
import signal
import sys
import time
from datetime import datetime

from .common import lab_root, run_main
from .journal import Journal, message_bytes, parse_cursor
from .unitfile import unit_name

OUTPUTS = {"json", "short", "short-iso", "short-unix", "short-precise", "cat"}
IGNORED = {
    "--no-pager",
    "-b",
    "--boot",
    "--system",
    "-x",
    "--catalog",
    "--no-hostname",
    "-l",
    "--full",
    "-m",
    "--merge",
}


class Usage(Exception):
    pass


def _blob(size: int) -> str:
    return f"[{size}B blob data]" if size < 1024 else f"[{size / 1024:.1f}K blob data]"


def format_entry(raw: str, entry: dict, mode: str, show_all: bool = False) -> bytes:
    """One entry in journalctl's output modes (json is the stored line itself)."""
    if mode == "json":
        return raw.encode() + b"\n"
    msg = message_bytes(entry)
    if mode == "cat":
        return msg + b"\n"
    if isinstance(entry.get("MESSAGE"), list) and not show_all:
        text = _blob(len(msg))
    else:
        text = msg.decode("utf-8", "replace")
    usec = int(entry["__REALTIME_TIMESTAMP"])
    when = datetime.fromtimestamp(usec / 1e6).astimezone()
    if mode == "short-iso":
        stamp = when.isoformat(timespec="seconds")
    elif mode == "short-unix":
        stamp = f"{usec // 1_000_000}.{usec % 1_000_000:06d}"
    elif mode == "short-precise":
        stamp = when.strftime("%b %d %H:%M:%S") + f".{usec % 1_000_000:06d}"
    else:
        stamp = when.strftime("%b %d %H:%M:%S")
    ident = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "unknown"
    pid = entry.get("SYSLOG_PID") or entry.get("_PID")
    return f"{stamp} {entry.get('_HOSTNAME', 'localhost')} {ident}{f'[{pid}]' if pid else ''}: {text}\n".encode()


def parse_time(text: str) -> float:
    now = time.time()
    if text.startswith("@"):
        return float(text[1:])
    if text == "now":
        return now
    if text in ("today", "yesterday"):
        midnight = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return midnight - (86400 if text == "yesterday" else 0)
    from .common import parse_timespan

    if text.startswith("-") or text.endswith(" ago"):
        return now - (parse_timespan(text.lstrip("-").removesuffix(" ago")) or 0)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    raise ValueError(text)


def parse(argv: list[str]) -> dict:
    opts: dict = {
        "units": [],
        "output": "short",
        "lines": None,
        "follow": False,
        "after": None,
        "cursor": None,
        "since": None,
        "until": None,
        "all": False,
        "quiet": False,
        "kernel": False,
    }
    argv = list(argv)
    for i, arg in enumerate(argv):  # `-n` takes an optional number: `-n -f` means `-n 10 -f`
        if arg in ("-n", "--lines") and not (i + 1 < len(argv) and (argv[i + 1].isdigit() or argv[i + 1] == "all")):
            argv.insert(i + 1, "10")
    it = iter(argv)
    for arg in it:
        key, eq, val = arg.partition("=")
        if arg in IGNORED or key in ("--boot", "--output-fields"):
            continue
        if arg in ("-u", "--unit") or key == "--unit" or (arg.startswith("-u") and len(arg) > 2):
            opts["units"].append(
                unit_name(val if eq else arg[2:] if arg.startswith("-u") and len(arg) > 2 else next(it, ""))
            )
        elif arg in ("-o", "--output") or key == "--output" or (arg.startswith("-o") and len(arg) > 2):
            opts["output"] = val if eq else arg[2:] if len(arg) > 2 and arg[1] == "o" else next(it, "")
            if opts["output"] not in OUTPUTS:
                raise Usage(f"Unknown output format '{opts['output']}'.")
        elif arg in ("-n", "--lines") or key == "--lines" or (arg.startswith("-n") and len(arg) > 2):
            value = val if eq else arg[2:] if arg.startswith("-n") and len(arg) > 2 else next(it, "10")
            try:
                opts["lines"] = None if value == "all" else int(value)
            except ValueError:
                raise Usage(f"Failed to parse lines '{value}'") from None
        elif arg in ("-f", "--follow"):
            opts["follow"] = True
        elif arg in ("-e", "--pager-end"):
            opts["lines"] = opts["lines"] if opts["lines"] is not None else 1000
        elif key in ("--after-cursor", "--cursor"):
            opts["after" if key == "--after-cursor" else "cursor"] = val if eq else next(it, "")
        elif key in ("--since", "--until", "-S", "-U"):
            name = "since" if key in ("--since", "-S") else "until"
            raw = val if eq else next(it, "")
            try:
                opts[name] = parse_time(raw)
            except ValueError:
                raise Usage(f"Failed to parse timestamp: {raw}") from None
        elif arg in ("-a", "--all"):
            opts["all"] = True
        elif arg in ("-k", "--dmesg"):  # the kernel's messages (this lab host's kernel log has none of its own)
            opts["kernel"] = True
        elif arg in ("-q", "--quiet"):
            opts["quiet"] = True
        else:
            raise Usage(
                f"journalctl: unrecognized option '{arg}'"
                if arg.startswith("-")
                else f"Failed to add match '{arg}': Invalid argument"
            )
    return opts


def _wanted(opts: dict):
    units = set(opts["units"])

    def match(entry: dict) -> bool:
        if opts["kernel"] and entry.get("_TRANSPORT") != "kernel":
            return False
        if units and entry.get("_SYSTEMD_UNIT") not in units and entry.get("UNIT") not in units:
            return False
        usec = int(entry["__REALTIME_TIMESTAMP"]) / 1e6
        return not ((opts["since"] and usec < opts["since"]) or (opts["until"] and usec > opts["until"]))

    return match


def _position(entries: list[tuple[str, dict]], cursor: str, inclusive: bool) -> int:
    """Index of the first entry after (or at) `cursor`; ValueError when the cursor cannot be parsed."""
    parts = parse_cursor(cursor)
    if parts is None:
        raise ValueError(cursor)
    same_series = entries and "i" in parts and parts.get("s") == entries[0][1].get("__SEQNUM_ID")
    for index, (_, entry) in enumerate(entries):
        if same_series:
            here, there = int(entry["__SEQNUM"]), int(parts["i"], 16)
        else:  # another journal (reset lab): fall back to the realtime clock, as journald does
            here, there = int(entry["__REALTIME_TIMESTAMP"]), int(parts.get("t", "0"), 16)
        if here > there or (inclusive and here == there):
            return index
    return len(entries)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        opts = parse(argv)
    except Usage as exc:
        print(exc, file=sys.stderr)
        return 1
    journal, match, out = Journal(lab_root()), _wanted(opts), sys.stdout.buffer
    entries, offset = journal.read_from(0)
    try:
        if opts["after"] is not None or opts["cursor"] is not None:
            start = _position(entries, opts["after"] or opts["cursor"], opts["after"] is None)
            chosen = [e for e in entries[start:] if match(e[1])]
            if opts["lines"] is not None and not opts["follow"]:
                chosen = chosen[: opts["lines"]]
        else:
            chosen = [e for e in entries if match(e[1])]
            lines = opts["lines"] if opts["lines"] is not None else (10 if opts["follow"] else None)
            if lines is not None:
                chosen = chosen[-lines:] if lines > 0 else []
    except ValueError:
        print("Failed to seek to cursor: Invalid argument", file=sys.stderr)
        return 1
    for raw, entry in chosen:
        out.write(format_entry(raw, entry, opts["output"], opts["all"]))
    out.flush()
    if not opts["follow"]:
        if not chosen and not opts["quiet"]:
            out.write(b"-- No entries --\n")
        return 0
    watcher = select.poll()
    watcher.register(sys.stdout.fileno(), 0)  # only POLLERR/POLLHUP: the reader went away
    while not watcher.poll(100):
        fresh, offset = journal.read_from(offset)
        for raw, entry in fresh:
            if match(entry):
                out.write(format_entry(raw, entry, opts["output"], opts["all"]))
                out.flush()
    return 0


if __name__ == "__main__":
    run_main(main)
