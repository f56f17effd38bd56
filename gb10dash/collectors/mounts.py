"""The model share: mount table parsers (pure) and a prober that never hangs on a dead mount."""

from __future__ import annotations

import asyncio
import json
import posixpath
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gb10dash.transport.base import STAT_ABANDON_S, Transport, TransportError

NETWORK_FSTYPES = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.sshfs", "9p"})
_OCTAL = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class MountEntry:
    mount_point: str
    fstype: str
    source: str
    options: str

    @property
    def is_network(self) -> bool:
        return self.fstype in NETWORK_FSTYPES

    @property
    def option_set(self) -> frozenset[str]:
        return frozenset(o for o in self.options.split(",") if o)


def _unescape(value: str) -> str:
    """Decode the kernel's octal escapes (`\\040` space, `\\011` tab, `\\012` newline, `\\134` backslash)."""
    if "\\" not in value:
        return value
    raw = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), value)
    try:  # escaped bytes of a UTF-8 name come back as latin-1 chars: re-decode
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _merge_options(mount_opts: str, super_opts: str) -> str:
    seen: list[str] = []
    for opt in (mount_opts + "," + super_opts).split(","):
        if opt and opt not in seen:
            seen.append(opt)
    return ",".join(seen)


def parse_mountinfo(text: str) -> tuple[MountEntry, ...]:
    """`/proc/self/mountinfo` → entries in file order; malformed lines are skipped."""
    entries: list[MountEntry] = []
    bad = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(" ")
        try:
            sep = parts.index("-", 6)
            mount_point, mount_opts = parts[4], parts[5]
            fstype, source, super_opts = parts[sep + 1], parts[sep + 2], parts[sep + 3]
        except (ValueError, IndexError):
            bad += 1
            continue
        entries.append(
            MountEntry(
                mount_point=_unescape(mount_point),
                fstype=_unescape(fstype),
                source=_unescape(source),
                options=_merge_options(mount_opts, super_opts),
            )
        )
    if bad and not entries:
        raise ValueError(
            "no valid mountinfo lines (expected /proc/self/mountinfo format: "
            "'ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS')"
        )
    return tuple(entries)


def _normalise(path: str) -> str:
    path = posixpath.normpath(path.strip() or "/")
    return "/" if path == "//" else path


def find_mount(entries: Iterable[MountEntry], path: str) -> MountEntry | None:
    """The entry mounted exactly at path (trailing slash ignored); the last (top) one when stacked."""
    target = _normalise(path)
    found = None
    for entry in entries:
        if _normalise(entry.mount_point) == target:
            found = entry
    return found


def find_mount_covering(entries: Iterable[MountEntry], path: str) -> MountEntry | None:
    """The mount that holds path (longest mount-point prefix, last wins), like `findmnt -T`."""
    target = _normalise(path)
    best, best_len = None, -1
    for entry in entries:
        mp = _normalise(entry.mount_point)
        if target == mp or mp == "/" or target.startswith(mp + "/"):
            if len(mp) >= best_len:
                best, best_len = entry, len(mp)
    return best


def _walk(nodes: Any, out: list[MountEntry]) -> None:
    if not isinstance(nodes, list):
        raise ValueError("findmnt JSON: expected a list under 'filesystems'/'children'")
    for node in nodes:
        if not isinstance(node, dict):
            raise ValueError("findmnt JSON: expected objects in 'filesystems'")
        target = node.get("target")
        if isinstance(target, str) and target:
            out.append(
                MountEntry(
                    mount_point=target,
                    fstype=str(node.get("fstype") or ""),
                    source=str(node.get("source") or ""),
                    options=str(node.get("options") or ""),
                )
            )
        if "children" in node:
            _walk(node["children"], out)


def parse_findmnt_json(text: str) -> tuple[MountEntry, ...]:
    """`findmnt -J [-T PATH | -t TYPE]` → entries (tree output flattened); blank output → ()."""
    if not text.strip():
        return ()  # findmnt prints nothing (exit 1) when nothing matches -M/-T
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"findmnt output is not JSON (expected `findmnt -J`): {exc}") from None
    if not isinstance(data, dict) or "filesystems" not in data:
        raise ValueError("findmnt JSON has no 'filesystems' key")
    out: list[MountEntry] = []
    _walk(data["filesystems"], out)
    return tuple(out)


# -- collector: is the share mounted, and does it answer? -------------------------------------
class MountState(StrEnum):
    MOUNTED = "mounted"
    DIRECTORY = "directory"  # a plain directory (model_share_mounted = false) that answered its stat
    NOT_MOUNTED = "not mounted"
    HUNG = "hung"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class MountStatus:
    path: str
    state: MountState
    entry: MountEntry | None = None
    stat_seconds: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The models are there: a mount that answered its stat, or the plain directory configured."""
        return self.state in (MountState.MOUNTED, MountState.DIRECTORY)


class MountProber:
    """Probes one mount point: /proc/self/mountinfo, then a stat with a deadline.

    A stat on a dead hard NFS mount may never return (D state): it is awaited only until the
    deadline, then left pending; while it is pending no second one is started, and the mount is
    reported hung with how long it has been waiting. The stat goes through `Transport.stat_path`
    (over SSH: SFTP on a session of its own, no process spawned); a session whose stat came back
    late is replaced before the next one, and one blocked for `STAT_ABANDON_S` is killed.
    """

    def __init__(self, transport: Transport, path: str, *, timeout: float = 3.0, mounted: bool = True):
        """mounted=False: the models sit in a plain directory (no mount expected; its stat is still timed)."""
        self.transport, self.path, self.timeout, self.mounted = transport, path, timeout, mounted
        self._pending: asyncio.Task[None] | None = None
        self._started = 0.0
        self._late = False  # the pending (or last) stat passed its deadline

    async def probe(self) -> MountStatus:
        text = (await self.transport.read_file("/proc/self/mountinfo")).decode("utf-8", errors="replace")
        entry = find_mount(parse_mountinfo(text), self.path)
        if entry is None and self.mounted:
            return MountStatus(self.path, MountState.NOT_MOUNTED)
        answered = MountState.MOUNTED if entry is not None else MountState.DIRECTORY
        if self._pending is not None and not self._pending.done():
            waited = time.monotonic() - self._started
            if waited > STAT_ABANDON_S:
                await self.transport.end_stat_session(kill=True)  # its stat then fails: a new one next time
            return MountStatus(self.path, MountState.HUNG, entry, waited, f"stat has not returned for {waited:.0f} s")
        if self._late:
            await self.transport.end_stat_session(kill=False)
        self._started, self._late = time.monotonic(), False
        self._pending = asyncio.ensure_future(self.transport.stat_path(self.path))
        self._pending.add_done_callback(_retrieve)
        done, _ = await asyncio.wait({self._pending}, timeout=self.timeout)
        elapsed = time.monotonic() - self._started
        if not done:
            self._late = True
            return MountStatus(
                self.path, MountState.HUNG, entry, elapsed, f"stat did not answer within {self.timeout:g} s"
            )
        error = self._pending.exception()
        if error is not None:
            return MountStatus(self.path, MountState.ERROR, entry, elapsed, str(error) or type(error).__name__)
        return MountStatus(self.path, answered, entry, elapsed)

    async def close(self) -> None:
        """Stop a stat still blocked on the host (its server is killed) and its task."""
        pending, self._pending = self._pending, None
        if pending is None or pending.done():
            return
        try:
            async with asyncio.timeout(10):
                await self.transport.end_stat_session(kill=True)
        except (TransportError, TimeoutError):
            pass
        finally:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


def _retrieve(task: asyncio.Task[None]) -> None:
    """A stat given up on may fail later with nobody awaiting it: that is not worth a warning."""
    if not task.cancelled():
        task.exception()
