"""A model store that is a plain directory (`model_share_mounted = false`): its stat is timed as a mount's,
and it is not "not mounted" — on this machine's real /proc/self/mountinfo and filesystem."""

from __future__ import annotations

from pathlib import Path

from gb10dash.collectors.mounts import MountProber, MountState
from gb10dash.transport.local import LocalTransport


async def test_a_plain_directory_is_ok_only_when_configured_so(tmp_path: Path) -> None:
    transport = LocalTransport()
    as_directory = await MountProber(transport, str(tmp_path), mounted=False).probe()
    assert as_directory.state is MountState.DIRECTORY and as_directory.ok and as_directory.entry is None
    assert as_directory.stat_seconds is not None and as_directory.stat_seconds < 3
    expected_mount = await MountProber(transport, str(tmp_path)).probe()
    assert expected_mount.state is MountState.NOT_MOUNTED and not expected_mount.ok
    missing = await MountProber(transport, str(tmp_path / "gone"), mounted=False).probe()
    assert missing.state is MountState.ERROR and not missing.ok and "gone" in (missing.error or "")
    root = await MountProber(transport, "/", mounted=False).probe()  # a mount point stays a mount
    assert root.state is MountState.MOUNTED and root.entry is not None
