"""mountinfo and findmnt -J parsing: the NFS model share, escapes, stacked mounts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from gb10dash.collectors.mounts import (
    MountEntry,
    find_mount,
    find_mount_covering,
    parse_findmnt_json,
    parse_mountinfo,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "mounts"
SHARE = "flashstore.home.arpa:/volume1/models"


def read(name: str) -> str:
    return (FIX / name).read_text()


def test_mountinfo_nfs4_share() -> None:
    entries = parse_mountinfo(read("mountinfo-gb10.txt"))
    assert len(entries) == 8
    m = find_mount(entries, "/mnt/models")
    assert m is not None
    assert (m.fstype, m.source, m.is_network) == ("nfs4", SHARE, True)
    assert m.options.startswith("rw,relatime,vers=4.1,")  # mount options, then super options
    assert {"hard", "proto=tcp", "addr=192.168.1.10"} <= m.option_set
    assert m.options.count("rw") == 1  # "rw" in both lists appears once


def test_mountinfo_escapes_and_optional_fields() -> None:
    points = [e.mount_point for e in parse_mountinfo(read("mountinfo-gb10.txt"))]
    assert "/mnt/scratch space" in points
    assert "/srv/back\\slash\ttab" in points  # "master:3 propagate_from:1" optional fields skipped
    assert "/mnt/café" in points


def test_find_mount_trailing_slash_and_stacked() -> None:
    entries = parse_mountinfo(read("mountinfo-stacked.txt"))  # has one junk line
    assert len(entries) == 3
    top = find_mount(entries, "/mnt/models/")
    assert top is not None and top.fstype == "tmpfs"  # the later mount hides the NFS one
    assert find_mount(entries, "/mnt") is None
    assert find_mount(entries, "/") is not None and find_mount(entries, "/").fstype == "ext4"  # type: ignore[union-attr]


def test_find_mount_covering() -> None:
    entries = parse_mountinfo(read("mountinfo-gb10.txt"))
    m = find_mount_covering(entries, "/mnt/models/Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf")
    assert m is not None and m.fstype == "nfs4"
    other = find_mount_covering(entries, "/mnt/modelsX")
    assert other is not None and other.mount_point == "/"


def test_mountinfo_garbage_raises() -> None:
    with pytest.raises(ValueError, match="mountinfo"):
        parse_mountinfo("not a mount table\n")
    assert parse_mountinfo("") == ()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_this_machines_mountinfo_has_root() -> None:
    entries = parse_mountinfo(Path("/proc/self/mountinfo").read_text())
    assert find_mount(entries, "/") is not None


def test_findmnt_nfs4() -> None:
    (m,) = parse_findmnt_json(read("findmnt-T-models-nfs4.json"))
    assert m == MountEntry("/mnt/models", "nfs4", SHARE, m.options)
    assert "vers=4.1" in m.option_set


def test_findmnt_unmounted_share_resolves_to_root() -> None:
    (m,) = parse_findmnt_json(read("findmnt-T-models-unmounted.json"))
    assert m.mount_point == "/" and not m.is_network
    assert find_mount((m,), "/mnt/models") is None


def test_findmnt_empty_and_missing() -> None:
    assert parse_findmnt_json(read("findmnt-t-nfs4-none.json")) == ()
    assert parse_findmnt_json(read("findmnt-M-missing.txt")) == ()


def test_findmnt_tree_is_flattened() -> None:
    entries = parse_findmnt_json(read("findmnt-tree.json"))
    assert [e.mount_point for e in entries] == ["/", "/boot/efi", "/mnt", "/mnt/models"]
    m = find_mount(entries, "/mnt/models")
    assert m is not None and m.options == "ro,vers=4.2,hard"


@pytest.mark.parametrize("bad", ["{", "[]", '{"other": []}', '{"filesystems": {}}', '{"filesystems": [1]}'])
def test_findmnt_malformed_raises(bad: str) -> None:
    with pytest.raises(ValueError, match="findmnt"):
        parse_findmnt_json(bad)
