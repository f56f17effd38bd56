"""gb10dash installed as a tool, the three ways the README gives, offline (the wheelhouse scripts/setup
--test fills: nothing is fetched): the wheel built from this working tree into a fresh venv outside the
repository, `uv tool install .` and `pipx install .`. Each works from a directory outside the clone —
`--version`, `--help`, its themes and TCSS from inside the installed package — and the venv's
`gb10dash status --json` reads the lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gb10dash import __version__
from gb10dash.lab import Lab

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".wheelhouse"
BIN = Path(sys.executable).parent


def offline_env(tmp: Path) -> dict[str, str]:
    if not any(WHEELHOUSE.glob("hatchling-*.whl")):
        pytest.fail(f"no wheelhouse at {WHEELHOUSE}: run scripts/setup --test", pytrace=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PIPX_", "VIRTUAL_ENV"))}
    return dict(
        env,
        HOME=str(tmp / "home"),
        PIP_CONFIG_FILE=os.devnull,  # this machine's pip.conf names other indexes
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(WHEELHOUSE),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_OFFLINE="1",
        UV_NO_INDEX="1",
        UV_FIND_LINKS=str(WHEELHOUSE),
        UV_PYTHON_DOWNLOADS="never",
        UV_CACHE_DIR=str(tmp / "uv-cache"),
        UV_TOOL_DIR=str(tmp / "uv-tools"),
        UV_TOOL_BIN_DIR=str(tmp / "uv-bin"),
        PIPX_HOME=str(tmp / "pipx"),
        PIPX_BIN_DIR=str(tmp / "pipx-bin"),
        PIPX_MAN_DIR=str(tmp / "pipx-man"),
    )


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def works_outside_the_clone(gb10dash: Path, env: dict[str, str], cwd: Path) -> None:
    assert run([str(gb10dash), "--version"], env, cwd).stdout.strip() == f"gb10dash {__version__}"
    assert "usage: gb10dash" in run([str(gb10dash), "--help"], env, cwd).stdout
    python = gb10dash.parent / "python"  # the tool's own venv (a symlink to it for uv and pipx)
    python = python if python.exists() else Path(os.path.realpath(gb10dash)).parent / "python"
    probe = (
        "import pathlib, gb10dash.ui.themes as t, gb10dash.ui.app as a;"
        "d = t.builtin_theme_dir(); print(d); print(sorted(p.name for p in d.glob('*.toml')));"
        "print((pathlib.Path(a.__file__).parent / 'app.tcss').is_file())"
    )
    where, themes, tcss = run([str(python), "-c", probe], env, cwd).stdout.splitlines()
    assert "site-packages" in where and REPO.as_posix() not in where
    assert themes == "['gb10-contrast.toml', 'gb10-dark.toml', 'gb10-light.toml']" and tcss == "True"


def test_the_wheel_in_a_fresh_venv_outside_the_repo_reads_the_lab(lab: Lab, tmp_path: Path) -> None:
    env, outside = offline_env(tmp_path), tmp_path / "elsewhere"
    outside.mkdir()
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(REPO)], env, outside)
    (wheel,) = (tmp_path / "dist").glob("gb10dash-*.whl")
    run([sys.executable, "-m", "venv", str(tmp_path / "venv")], env, outside)
    run([str(tmp_path / "venv" / "bin" / "pip"), "install", str(wheel)], env, outside)
    gb10dash = tmp_path / "venv" / "bin" / "gb10dash"
    works_outside_the_clone(gb10dash, env, outside)
    status = subprocess.run(
        [str(gb10dash), "status", "--json"],
        env=dict(env, GB10DASH_CONFIG=str(lab.config_path)),
        cwd=outside,
        capture_output=True,
        text=True,
        timeout=120,
    )
    document = json.loads(status.stdout)
    assert document["schema"] == "gb10dash.status/3"
    assert [h["name"] for h in document["hosts"]] == ["pegasus", "stella"]
    assert all(h["reachable"] and h["health"]["state"] == "ok" for h in document["hosts"]), status.stderr


def test_uv_tool_install_from_the_clone(tmp_path: Path) -> None:
    env, outside = offline_env(tmp_path), tmp_path / "elsewhere"
    outside.mkdir()
    run([str(BIN / "uv"), "tool", "install", "--python", sys.executable, str(REPO)], env, outside)
    works_outside_the_clone(tmp_path / "uv-bin" / "gb10dash", env, outside)


def test_pipx_install_from_the_clone(tmp_path: Path) -> None:
    env, outside = offline_env(tmp_path), tmp_path / "elsewhere"
    outside.mkdir()
    run([str(BIN / "pipx"), "install", "--python", sys.executable, str(REPO)], env, outside)
    works_outside_the_clone(tmp_path / "pipx-bin" / "gb10dash", env, outside)
