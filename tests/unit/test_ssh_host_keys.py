"""Trust on first use without a host: a key is accepted only for a host known_hosts has no key for,
recorded in the form ssh reads back, and reported as `ssh-keygen -lf` shows it."""

from __future__ import annotations

from pathlib import Path

import asyncssh

from gb10dash.transport.ssh_host_keys import (
    AcceptNewHostKey,
    append_known_host,
    changed_key_message,
    key_fingerprint,
    known_hosts_files,
)


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519").convert_to_public()


def test_a_host_with_no_known_key_is_accepted_and_recorded(tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"  # neither the file nor its directory exist yet
    key = new_key()
    client = AcceptNewHostKey([str(known)])
    assert client.validate_host_public_key("127.0.0.1", "127.0.0.1", 2222, key)
    assert client.accepted is not None and not client.changed
    pattern, accepted = client.accepted
    assert pattern == "[127.0.0.1]:2222"
    append_known_host(str(known), pattern, accepted)
    assert any(asyncssh.read_known_hosts(str(known)).match("127.0.0.1", "127.0.0.1", 2222))
    assert key_fingerprint(key) == f"ssh-ed25519 {key.get_fingerprint('sha256')}"


def test_a_host_known_with_another_key_is_refused_as_changed(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    append_known_host(str(known), "spark", new_key())
    client = AcceptNewHostKey([str(tmp_path / "missing"), str(known)])
    assert not client.validate_host_public_key("spark", "10.0.0.2", 22, new_key())
    assert client.changed and client.accepted is None
    assert "HOST KEY CHANGED" in changed_key_message("spark", "; the host offered ssh-ed25519 SHA256:x")


def test_known_hosts_files_from_the_ssh_config(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(f"Host spark\n  UserKnownHostsFile {tmp_path}/a {tmp_path}/b\n")
    assert known_hosts_files("spark", [str(config)]) == [f"{tmp_path}/a", f"{tmp_path}/b"]
    assert known_hosts_files("other", [str(config)]) == [str(Path("~/.ssh/known_hosts").expanduser())]
