"""The pure rules of `gb10dash serve`: loopback or not, the bind check, the token file, the session command."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from gb10dash.cli import build_parser
from gb10dash.serve.bind import (
    ServeError,
    app_command,
    check_bind,
    is_loopback,
    read_token,
)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "",
        "192.168.1.20",
        "10.0.0.1",
        "fe80::1",
        "::ffff:127.0.0.1",
        "dash.home.arpa",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
    ],
)
def test_everything_else_counts_as_reachable(host: str) -> None:
    assert not is_loopback(host)


def test_loopback_binds_need_nothing() -> None:
    check_bind("127.0.0.1", 8765, read_only=False, token_file=None)


@pytest.mark.parametrize(
    "options",
    [
        {"read_only": True, "token_file": None},
        {"read_only": False, "token_file": "/some/token"},
        {"read_only": True, "token_file": "/some/token"},
    ],
)
def test_other_binds_need_read_only_or_a_token(options: dict) -> None:
    check_bind("0.0.0.0", 8765, **options)


def test_an_open_bind_is_refused_and_says_what_to_do() -> None:
    with pytest.raises(ServeError) as refused:
        check_bind("192.168.1.20", 9000, read_only=False, token_file=None)
    message = str(refused.value)
    assert "refusing to bind 192.168.1.20" in message and "no TLS" in message
    assert "--read-only" in message and "--token-file" in message
    assert "ssh -L 9000:127.0.0.1:9000" in message


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_ports_out_of_range(port: int) -> None:
    with pytest.raises(ServeError, match="--port"):
        check_bind("127.0.0.1", port, read_only=False, token_file=None)


def _token_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_token_read_from_a_private_file(tmp_path: Path) -> None:
    assert read_token(_token_file(tmp_path, "  Zk3-long-enough-token_x \n")) == "Zk3-long-enough-token_x"


def test_token_file_readable_by_others_is_refused_without_printing_the_token(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="chmod 600") as refused:
        read_token(_token_file(tmp_path, "Zk3-long-enough-token_x\n", 0o644))
    assert "Zk3" not in str(refused.value)


@pytest.mark.parametrize("text", ["", "short\n", "two lines of\ntoken-token-token\n", "has a space in the token"])
def test_bad_tokens_are_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ServeError, match="at least 16 characters"):
        read_token(_token_file(tmp_path, text))


def test_a_missing_token_file(tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="cannot read"):
        read_token(tmp_path / "absent")


def test_the_session_command_is_this_gb10dash_on_the_same_config(tmp_path: Path) -> None:
    config = tmp_path / "dir with space" / "hosts.toml"
    argv = shlex.split(app_command(config, refresh_s=0.5, read_only=True))
    assert argv[:4] == ["exec", sys.executable, "-m", "gb10dash"]  # exec: the shell becomes the app
    args = build_parser().parse_args(argv[4:])  # gb10dash's own parser accepts it
    assert (args.command, args.config, args.refresh, args.read_only) == ("tui", str(config.resolve()), 0.5, True)


def test_the_session_command_without_read_only(tmp_path: Path) -> None:
    argv = shlex.split(app_command(tmp_path / "hosts.toml", refresh_s=1.0, read_only=False))
    assert build_parser().parse_args(argv[4:]).read_only is False
