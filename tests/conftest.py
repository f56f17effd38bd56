"""Shared fixtures. ``lab``: the lab of real parts, started once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _lab_server_env() -> None:
    """The tests that start a llama-server themselves run it as the lab's units do (SERVER_ENV says why)."""
    from gb10dash.lab.layout import SERVER_ENV

    for key, value in SERVER_ENV.items():
        os.environ.setdefault(key, value)


_lab_server_env()


def lab_test_dir() -> Path:
    """A fixed place (git-ignored) so that a crashed session's leftovers are swept by the next start."""
    return Path(os.environ.get("GB10DASH_TEST_LAB_DIR") or REPO / ".lab" / "tests")


def _require_lab_parts() -> None:
    from gb10dash.lab import LlamaServerNotFound, find_llama_server

    try:
        find_llama_server()
    except LlamaServerNotFound as e:
        pytest.fail(str(e), pytrace=False)
    for tool in ("/usr/sbin/sshd", "ssh", "ssh-keygen"):
        from shutil import which

        if not which(tool):
            pytest.fail(f"{tool} missing: apt-get install -y openssh-server openssh-client", pytrace=False)


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> object:
    """The lab a test module runs against: the real-hosts lab (a Debian container per host), unless the
    module tests the demo's light lab itself (`ON_SHIM_LAB = True`)."""
    return request.getfixturevalue("shim_lab" if getattr(request.module, "ON_SHIM_LAB", False) else "hosts_lab")


@pytest.fixture(scope="module")
def shim_lab() -> Iterator[object]:
    """The demo's light lab (stand-ins for systemctl, journalctl and sudo; both llama-servers healthy),
    for the tests of that lab itself; stopped after their module (it would only load the machine)."""
    from gb10dash.lab import Lab

    yield from _running(Lab(lab_test_dir()))


def _running(the_lab) -> Iterator[object]:
    _require_lab_parts()
    try:
        the_lab.start()
        the_lab.wait_ready(timeout=120)
        yield the_lab
    finally:
        the_lab.stop()


def hosts_lab_dir() -> Path:
    return lab_test_dir().with_name("hosts")


@pytest.fixture(scope="session")
def hosts_lab() -> Iterator[object]:
    """The real-hosts lab: both hosts booted (systemd as PID 1) and their llama-servers healthy; powered
    off at the end."""
    from gb10dash.lab.hosts_lab import HostsLab, can_boot

    why = can_boot()
    if why:
        pytest.fail(why, pytrace=False)
    yield from _running(HostsLab(hosts_lab_dir()))
