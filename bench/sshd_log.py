"""Counting an OpenSSH sshd's LogLevel VERBOSE log (the lab's `sshd -E` file, no timestamps).

A window is the bytes appended between two offsets; `count_log` is pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_CONNECTION = re.compile(r"^Connection from \S+ port \d+ on \S+ port \d+")
_SESSION = re.compile(r"^Starting session: (?P<kind>command|subsystem '(?P<sub>[^']+)'|shell|forced-command)")
_ACCEPTED = re.compile(r"^Accepted \S+ for \S+ from ")


@dataclass(frozen=True)
class SshdCounts:
    connections: int = 0  # TCP connections accepted ("Connection from …")
    logins: int = 0  # authenticated ("Accepted publickey for …")
    commands: int = 0  # exec sessions ("Starting session: command …")
    subsystems: int = 0  # sftp and other subsystem sessions


def count_log(text: str) -> SshdCounts:
    connections = logins = commands = subsystems = 0
    for line in text.splitlines():
        if _CONNECTION.match(line):
            connections += 1
        elif _ACCEPTED.match(line):
            logins += 1
        elif match := _SESSION.match(line):
            if match.group("sub"):
                subsystems += 1
            else:
                commands += 1
    return SshdCounts(connections, logins, commands, subsystems)


class LogWindow:
    """The part of a log file written between `start()` and `stop()`."""

    def __init__(self, path: Path):
        self.path = path
        self._start = 0
        self.text = ""

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def start(self) -> LogWindow:
        self._start = self._size()
        return self

    def stop(self) -> SshdCounts:
        with open(self.path, "rb") as fh:
            fh.seek(self._start)
            self.text = fh.read().decode(errors="replace")
        return count_log(self.text)
