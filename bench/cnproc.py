"""Processes spawned under given roots (a lab host's sshd), from the kernel's proc connector.

The proc connector (netlink, CAP_NET_ADMIN) reports every fork, exec and exit on the machine
as it happens, with the parent at fork time: a process that is orphaned later (the `cat` of a
guarded ssh command) is still counted for the host whose sshd forked its ancestor, and a
process that lives 1 ms is not missed, which a /proc sampler would. `parse_event` is pure.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

NETLINK_CONNECTOR = 11
CN_IDX_PROC = CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN, PROC_CN_MCAST_IGNORE = 1, 2
FORK, EXEC, EXIT = 0x1, 0x2, 0x80000000
_HEADER = struct.Struct("=IHHII")  # nlmsghdr
_CN_MSG = struct.Struct("=IIIIHH")  # cb_id idx, val, seq, ack, len, flags
_EVENT = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_DATA = _HEADER.size + _CN_MSG.size + _EVENT.size


@dataclass(frozen=True)
class ProcEvent:
    what: int
    pid: int  # the thread (fork: the child's)
    tgid: int  # the process (fork: the child's)
    parent_tgid: int = 0  # fork only


def parse_event(datagram: bytes) -> ProcEvent | None:
    """One proc connector datagram: a fork of a process (threads are skipped), an exec or an exit."""
    if len(datagram) < _DATA + 8:
        return None
    what = _EVENT.unpack_from(datagram, _HEADER.size + _CN_MSG.size)[0]
    if what == FORK:
        _parent_pid, parent_tgid, child_pid, child_tgid = struct.unpack_from("=IIII", datagram, _DATA)
        if child_pid != child_tgid:
            return None  # a new thread, not a new process
        return ProcEvent(FORK, child_pid, child_tgid, parent_tgid)
    if what in (EXEC, EXIT):
        pid, tgid = struct.unpack_from("=II", datagram, _DATA)
        if what == EXIT and pid != tgid:
            return None  # a thread ended
        return ProcEvent(what, pid, tgid)
    return None


def subscribe_message(op: int = PROC_CN_MCAST_LISTEN) -> bytes:
    body = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, 4, 0) + struct.pack("=I", op)
    return _HEADER.pack(_HEADER.size + len(body), 3, 0, 0, os.getpid()) + body  # type NLMSG_DONE


@dataclass
class Tally:
    """What one root's subtree did: processes forked and programs exec'd, and every pid seen in it."""

    forks: int = 0
    execs: int = 0
    pids: set[int] = field(default_factory=set)
    programs: Counter[str] = field(default_factory=Counter)


class Attribution:
    """Pure bookkeeping: which root each process descends from, fed with events in order."""

    def __init__(self, members: dict[int, str]):
        self.owner = dict(members)  # tgid -> root name, the live ones
        self.tallies = {name: Tally() for name in set(members.values())}

    def feed(self, event: ProcEvent, program: str | None = None) -> None:
        if event.what == FORK:
            root = self.owner.get(event.parent_tgid)
            if root is not None:
                self.owner[event.tgid] = root
                tally = self.tallies[root]
                tally.forks += 1
                tally.pids.add(event.tgid)
        elif event.what == EXEC:
            root = self.owner.get(event.tgid)
            if root is not None:
                self.tallies[root].execs += 1
                self.tallies[root].pids.add(event.tgid)
                if program:
                    self.tallies[root].programs[program] += 1
        elif event.what == EXIT:
            self.owner.pop(event.tgid, None)


class ProcWatch:
    """Listens to the proc connector in a thread and attributes processes to roots (name -> pids)."""

    def __init__(self, roots: dict[str, set[int]]):
        self.attribution = Attribution({pid: name for name, pids in roots.items() for pid in pids})
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        self._sock.bind((0, CN_IDX_PROC))
        self._sock.send(subscribe_message())
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.overruns = 0
        self._thread = threading.Thread(target=self._run, name="cnproc", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # ENOBUFS: the kernel dropped events (we were too slow)
                self.overruns += 1
                continue
            event = parse_event(data)
            if event is None:
                continue
            program = _comm(event.tgid) if event.what == EXEC else None
            with self._lock:
                self.attribution.feed(event, program)

    def snapshot(self) -> dict[str, Tally]:
        with self._lock:
            return {
                name: Tally(t.forks, t.execs, set(t.pids), Counter(t.programs))
                for name, t in self.attribution.tallies.items()
            }

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        try:
            self._sock.send(subscribe_message(PROC_CN_MCAST_IGNORE))
        except OSError:
            pass
        self._sock.close()


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm") as fh:
            return fh.read().strip()
    except OSError:
        return None  # gone already
