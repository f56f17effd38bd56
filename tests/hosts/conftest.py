"""The real-hosts lab (a systemd-nspawn container per host), booted once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from conftest import REPO, _require_lab_parts


@pytest.fixture(scope="session")
def hosts_lab() -> Iterator[object]:
    """Both lab hosts booted (systemd as PID 1) and their llama-servers healthy; powered off at the end."""
    from gb10dash.lab.hosts_lab import HostsLab, can_boot

    _require_lab_parts()
    why = can_boot()
    if why:
        pytest.fail(why, pytrace=False)
    lab = HostsLab(os.environ.get("GB10DASH_TEST_HOSTS_LAB_DIR") or REPO / ".lab" / "hosts")
    try:
        lab.start()
        lab.wait_ready(timeout=120)
        yield lab
    finally:
        lab.stop()
