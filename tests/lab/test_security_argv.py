"""Hostile model names and paths (hypothesis) through every remote command path of the SSH transport
against the real sshd: `run` (guarded), `run` with stdin (plain shlex.join), `stream`, and SFTP
`read_file`. Each argument comes back byte-identical from `printf`; a marker file proves that nothing
was executed. (Swap's own path is covered with a fixed hostile list in test_actions_swap.py.)"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gb10dash.config import SshSettings
from gb10dash.lab import Lab
from gb10dash.transport.ssh import SshTransport

from . import labctl

MARKER_DIR = Path("/tmp")


def fragments(marker: Path) -> st.SearchStrategy[str]:
    touch = f"touch {marker}"
    return st.sampled_from(
        [
            f"$({touch})",
            f"`{touch}`",
            f"; {touch}",
            f"| {touch}",
            f"\n{touch}\n",
            f"&& {touch}",
            f"' ; {touch} ; '",
            f'" ; {touch} ; "',
            "-rf",
            "--",
            "-",
            "~",
            "*",
            "$HOME",
            "${IFS}",
            "\\",
            "%s",
            "%%",
            "Qwen3 8B Q8_0.gguf",
            "модель.gguf",
            "模型.gguf",
            "🦙",
            " ",
            "\t",
            "\r",
        ]
    )


def hostile(marker: Path) -> st.SearchStrategy[str]:
    chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
    piece = st.one_of(fragments(marker), st.text(chars, min_size=1, max_size=12))
    return st.lists(piece, min_size=1, max_size=4).map("".join)


def file_names(marker: Path) -> st.SearchStrategy[str]:
    return (
        hostile(marker)
        .map(lambda s: s.replace("/", "∕"))
        .filter(lambda s: s not in (".", "..") and len(s.encode()) <= 200)
    )


async def round_trip(lab: Lab, args: list[str], names: list[str], share: Path, remote_share: str) -> None:
    base = SshSettings(config_file=lab.ssh_config_path, connect_timeout_s=10)
    transport = SshTransport("pegasus", "pegasus-llm", dataclasses.replace(base))
    await transport.connect()
    try:
        guarded = await transport.run(["printf", "%s\\0", *args])
        assert guarded.ok, guarded.stderr
        assert guarded.stdout.split("\0")[:-1] == args
        plain = await transport.run(["printf", "%s\\0", *args], input="")
        assert plain.stdout.split("\0")[:-1] == args
        for arg in args[:3]:  # one argument a line: newlines inside come back as line breaks
            streamed = [line async for line in transport.stream(["printf", "%s\\n", arg])]
            assert "\n".join(streamed) == arg
        for name in names:
            path = share / name
            path.write_bytes(name.encode())
            assert await transport.read_file(f"{remote_share}/{name}") == name.encode()
            listed = await transport.run(["find", remote_share, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\0"])
            assert listed.stdout.split("\0")[:-1] == [name], (name, listed)
            path.unlink()
    finally:
        await transport.close()


def test_hostile_arguments_are_never_interpreted(lab: Lab, tmp_path: Path) -> None:
    marks, remote_marks = labctl.host_dir(lab, "pegasus", tmp_path / "marks")
    marker = marks / "INJECTED"  # where this machine looks; the payloads touch the host's own path
    share, remote_share = labctl.host_dir(lab, "pegasus", tmp_path / "share")
    remote_marker = Path(remote_marks) / "INJECTED"
    examples = 0

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(hostile(remote_marker), min_size=1, max_size=25),
        st.lists(file_names(remote_marker), max_size=4, unique=True),
    )
    def check(args: list[str], names: list[str]) -> None:
        nonlocal examples
        examples += 1
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # its own loop: hypothesis drives a sync test
            pool.submit(asyncio.run, round_trip(lab, args, names, share, remote_share)).result(timeout=120)
        assert not marker.exists(), f"injection: {args!r} {names!r}"

    check()
    assert examples >= 10 and not marker.exists()
