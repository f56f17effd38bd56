"""Process helpers: liveness that ignores zombies, and a bounded sweep of the lab's processes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

import psutil


def alive(pid: int | None) -> bool:
    """True if ``pid`` runs (a zombie does not count: PID 1 here may never reap it)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _protected() -> set[int]:
    """Ourselves and our ancestors: never swept even if their argv names the lab root."""
    pids = {os.getpid()}
    try:
        pids.update(p.pid for p in psutil.Process().parents())
    except psutil.Error:
        pass
    return pids


def _mentions(proc: psutil.Process, root: str) -> bool:
    """A lab process: its GB10LAB_ROOT lies under ``root``, or it is an sshd / llama-server / shim /
    program run from the lab dir whose argv names ``root`` (an editor open on a lab file is not)."""
    inside = root + os.sep
    try:
        env = proc.environ().get("GB10LAB_ROOT", "")
        if env == root or env.startswith(inside):
            return True
        cmd = proc.cmdline()
        if not any(a == root or inside in a for a in cmd):
            return False
        return (
            proc.name() in ("sshd", "llama-server")
            or cmd[0].startswith(inside)
            or any("gb10dash.lab.shims" in a for a in cmd)
        )
    except (psutil.Error, IndexError):
        return False


def lab_processes(root: Path, tree_of: Iterable[int] = ()) -> list[psutil.Process]:
    """Live processes that belong to the lab under ``root``: those whose argv names the root or
    whose GB10LAB_ROOT lies under it, plus the whole trees of the ``tree_of`` pids (sshd
    listeners: their per-connection children do not name the root)."""
    text, skip, found = str(root), _protected(), {}
    for pid in tree_of:
        try:
            top = psutil.Process(pid)
            if not _mentions(top, text):  # a recorded pid reused by another process (pids wrap): not ours
                continue
            for p in [top, *top.children(recursive=True)]:
                found[p.pid] = p
        except psutil.Error:
            continue
    for p in psutil.process_iter():
        if p.pid not in found and _mentions(p, text):
            found[p.pid] = p
    return [p for pid, p in found.items() if pid not in skip and alive(pid)]


def terminate(procs: list[psutil.Process], timeout: float = 5.0) -> list[psutil.Process]:
    """SIGTERM, wait up to ``timeout``, SIGKILL what is left; returns those still alive."""
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    deadline = time.monotonic() + timeout
    left = procs
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p.pid)]
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    deadline = time.monotonic() + 2.0
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p for p in left if alive(p.pid)]
    return left
