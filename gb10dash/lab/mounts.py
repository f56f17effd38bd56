"""The model share: a read-only bind mount of share-src on each host's models/ (root only).

As a normal user no mount can be made: models/ is then a plain directory holding symlinks
into share-src, and the dashboard's mounts collector rightly reports it "not mounted".
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def is_mount_point(path: Path) -> bool:
    """True if /proc/self/mountinfo lists ``path`` as a mount point."""
    target = str(path.absolute())
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return os.path.ismount(target)
    return any(len(f := line.split()) > 4 and _unescape(f[4]) == target for line in lines)


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


def mount_share(src: Path, target: Path) -> bool:
    """Bind ``src`` read-only on ``target``; returns True if mounted, False if it fell back to
    a plain directory (not root)."""
    if is_mount_point(target):
        return True
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        target.unlink()
    if target.is_dir() and not can_mount():
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    if not can_mount():
        for entry in src.iterdir():
            if not entry.name.startswith("."):
                (target / entry.name).symlink_to(entry)
        return False
    subprocess.run(["mount", "--bind", str(src), str(target)], check=True, capture_output=True, timeout=20)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True, capture_output=True, timeout=20)
    return True


def unmount_share(target: Path) -> None:
    """Undo ``mount_share`` (a busy mount is detached lazily)."""
    for _ in range(4):  # a path can be mounted more than once
        if not is_mount_point(target):
            return
        done = subprocess.run(["umount", str(target)], capture_output=True, timeout=20)
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=20)
    if is_mount_point(target):
        raise RuntimeError(f"could not unmount {target}")
