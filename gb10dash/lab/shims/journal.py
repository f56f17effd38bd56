"""The lab journal: an append-only JSONL file of entries already in `journalctl -o json` form."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

from .common import boot_id, flocked, hostname, machine_id, now_us, state_dir

FIRST_FIELDS = ("__CURSOR", "__REALTIME_TIMESTAMP", "__MONOTONIC_TIMESTAMP", "__SEQNUM", "__SEQNUM_ID", "_BOOT_ID")


def encode_value(value: str | bytes) -> str | list[int]:
    """journald's JSON rule: non-UTF-8 or non-printable (controls other than TAB/LF) → array of byte numbers."""
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return list(raw)
    if any((ord(c) < 0x20 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F for c in text):
        return list(raw)
    return text


def message_bytes(entry: dict, key: str = "MESSAGE") -> bytes:
    value = entry.get(key)
    if isinstance(value, list):
        return bytes(value)
    return (value or "").encode()


def parse_cursor(cursor: str) -> dict[str, str] | None:
    parts = dict(p.split("=", 1) for p in cursor.split(";") if "=" in p)
    try:
        if "i" in parts:
            int(parts["i"], 16)
        if "t" in parts:
            int(parts["t"], 16)
    except ValueError:
        return None
    if not ({"s", "i"} <= parts.keys() or "t" in parts):
        return None
    return parts


class Journal:
    """One journal per lab host, state/journal/system.jsonl; appends are serialised with flock."""

    def __init__(self, root: Path | None = None) -> None:
        self.dir = state_dir(root) / "journal"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / "system.jsonl"
        self.lock = self.dir / "journal.lock"
        self.hostname = hostname(root)
        self.boot_id = boot_id()
        self.machine_id = machine_id()
        self._thread_lock = threading.Lock()
        self._cached: tuple[int, int] = (-1, 0)  # (file size after our last append, its seqnum)
        self.seqnum_id = self._seqnum_id()

    def _seqnum_id(self) -> str:
        id_path = self.dir / "seqnum_id"
        with flocked(self.lock):
            if not id_path.exists():
                id_path.write_text(uuid.uuid4().hex)
            return id_path.read_text().strip()

    def _last_seqnum(self, fd: int, size: int) -> int:
        if size == self._cached[0]:
            return self._cached[1]
        pos, tail = size, b""
        while pos > 0 and tail.count(b"\n") < 2:
            step = min(65536, pos)
            pos -= step
            tail = os.pread(fd, step, pos) + tail
        lines = tail.rstrip(b"\n").split(b"\n")
        return int(json.loads(lines[-1])["__SEQNUM"]) if lines and lines[-1] else 0

    def vacuum(self, keep_lines: int) -> int:
        """Keep the newest `keep_lines` entries (journalctl --vacuum-* on a real host drops old files);
        returns how many were dropped. Only while nothing follows the journal (a follower's offset
        would point into the old file)."""
        with self._thread_lock, flocked(self.lock):
            if not self.path.exists():
                return 0
            lines = self.path.read_bytes().splitlines(keepends=True)
            if len(lines) <= keep_lines:
                return 0
            fresh = self.dir / "system.jsonl.vacuum"
            fresh.write_bytes(b"".join(lines[-keep_lines:]) if keep_lines > 0 else b"")
            os.replace(fresh, self.path)
            self._cached = (-1, 0)
            return len(lines) - keep_lines

    def append(self, entries: list[dict[str, str | bytes]]) -> list[str]:
        """Append entries (field → str/bytes, without the __ fields); returns their cursors."""
        cursors = []
        with self._thread_lock, flocked(self.lock):
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                seq = self._last_seqnum(fd, os.fstat(fd).st_size)
                chunks = []
                for fields in entries:
                    seq += 1
                    line, cursor = self._render(seq, fields)
                    chunks.append(line)
                    cursors.append(cursor)
                os.write(fd, "".join(chunks).encode())
                self._cached = (os.fstat(fd).st_size, seq)
            finally:
                os.close(fd)
        return cursors

    def _render(self, seq: int, fields: dict[str, str | bytes]) -> tuple[str, str]:
        realtime, mono = now_us()
        xhash = hashlib.blake2b(repr((seq, sorted(fields.items()))).encode(), digest_size=8).hexdigest()
        cursor = f"s={self.seqnum_id};i={seq:x};b={self.boot_id};m={mono:x};t={realtime:x};x={xhash}"
        entry: dict = {
            "__CURSOR": cursor,
            "__REALTIME_TIMESTAMP": str(realtime),
            "__MONOTONIC_TIMESTAMP": str(mono),
            "__SEQNUM": str(seq),
            "__SEQNUM_ID": self.seqnum_id,
            "_BOOT_ID": self.boot_id,
        }
        for key, value in fields.items():
            entry[key] = encode_value(value)
        entry.setdefault("_MACHINE_ID", self.machine_id)
        entry.setdefault("_HOSTNAME", self.hostname)
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n", cursor

    def read_from(self, offset: int = 0) -> tuple[list[tuple[str, dict]], int]:
        """Complete entries from byte offset on: ([(raw json line, parsed)], offset after the last)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return [], offset
        end = data.rfind(b"\n") + 1
        out = []
        for raw in data[:end].splitlines():
            if raw.strip():
                text = raw.decode("utf-8", "replace")
                out.append((text, json.loads(text)))
        return out, offset + end


def stdout_fields(meta: dict, pid: int, message: bytes | str) -> dict[str, str | bytes]:
    """Fields journald records for one line a service wrote to its stdout/stderr stream."""
    unit = meta["unit"]
    return {
        "PRIORITY": "6",
        "SYSLOG_FACILITY": "3",
        "_UID": str(meta.get("uid", os.getuid())),
        "_GID": str(meta.get("gid", os.getgid())),
        "_TRANSPORT": "stdout",
        "_STREAM_ID": meta["stream_id"],
        "SYSLOG_IDENTIFIER": meta["identifier"],
        "_PID": str(pid),
        "_COMM": meta["comm"],
        "_EXE": meta["exe"],
        "_CMDLINE": meta["cmdline"],
        "_SYSTEMD_CGROUP": f"/system.slice/{unit}",
        "_SYSTEMD_UNIT": unit,
        "_SYSTEMD_SLICE": "system.slice",
        "_SYSTEMD_INVOCATION_ID": meta["invocation_id"],
        "MESSAGE": message,
    }


def systemd_fields(
    unit: str, message: str, priority: int = 6, invocation_id: str = "", extra: dict[str, str] | None = None
) -> dict[str, str | bytes]:
    """Fields of a message PID 1 logs about a unit (UNIT=, SYSLOG_IDENTIFIER=systemd, _PID=1)."""
    fields: dict[str, str | bytes] = {
        "PRIORITY": str(priority),
        "SYSLOG_FACILITY": "3",
        "SYSLOG_IDENTIFIER": "systemd",
        "_TRANSPORT": "journal",
        "_PID": "1",
        "_UID": "0",
        "_GID": "0",
        "_COMM": "systemd",
        "_EXE": "/usr/lib/systemd/systemd",
        "_CMDLINE": "/sbin/init splash",
        "_SYSTEMD_CGROUP": "/init.scope",
        "_SYSTEMD_UNIT": "init.scope",
        "_SYSTEMD_SLICE": "-.slice",
        "UNIT": unit,
    }
    if invocation_id:
        fields["INVOCATION_ID"] = invocation_id
    fields.update(extra or {})
    fields["MESSAGE"] = message
    return fields


def unit_meta(unit: str, argv: list[str], pid: int, invocation_id: str, identifier: str = "") -> dict:
    """Stream metadata for a unit's main process (what journald learns when the stream connects)."""
    from .common import proc_cmdline, proc_comm, proc_exe

    cmdline = proc_cmdline(pid) or argv
    return {
        "unit": unit,
        "stream_id": uuid.uuid4().hex,
        "invocation_id": invocation_id,
        "identifier": identifier or os.path.basename(argv[0] if argv else unit),
        "comm": proc_comm(pid) or os.path.basename(argv[0] if argv else "")[:15],
        "exe": proc_exe(pid) or (argv[0] if argv else ""),
        "cmdline": " ".join(cmdline),
    }
