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

#: the XDG base directories gb10dash keeps the operator's files under, and where they are when not set
#: (not the cache: the llama.cpp source archive scripts/setup downloads there is shared on purpose)
XDG = {"XDG_STATE_HOME": ".local/state", "XDG_CONFIG_HOME": ".config", "XDG_DATA_HOME": ".local/share"}


def _real_gb10dash_dirs() -> list[Path]:
    """The operator's own gb10dash directories (as the environment pytest started in names them)."""
    return [Path(os.environ.get(var) or Path.home() / fallback) / "gb10dash" for var, fallback in XDG.items()]


def _listing(dirs: list[Path]) -> dict[str, tuple[int, int]]:
    found = {}
    for top in dirs:
        for root, _subdirs, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                try:
                    info = os.lstat(path)
                except FileNotFoundError:
                    continue
                found[path] = (info.st_size, info.st_mtime_ns)
    return found


_REAL_DIRS = _real_gb10dash_dirs()
_REAL_BEFORE = _listing(_REAL_DIRS)


def pytest_configure(config: pytest.Config) -> None:
    """Nothing the suite runs — fixtures of any scope, subprocesses — writes into the operator's own
    XDG directories: the session gets its own, each test its own below them (own_xdg_dirs)."""
    import tempfile

    session = Path(tempfile.mkdtemp(prefix="gb10dash-test-xdg-"))
    for var in XDG:
        os.environ[var] = str(session / var.lower())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The check that the operator's own gb10dash directories are as they were: a run that touched them fails."""
    changed = sorted(set(_listing(_REAL_DIRS).items()) ^ set(_REAL_BEFORE.items()))
    if changed:
        paths = sorted({path for path, _ in changed})
        print(f"\nFAILED: the test suite changed the operator's own gb10dash files: {', '.join(paths[:10])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def own_xdg_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own XDG directories (audit log, locks, load history, config, themes)."""
    for var in XDG:
        monkeypatch.setenv(var, str(tmp_path / "xdg" / var.lower()))
    return tmp_path / "xdg"


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
