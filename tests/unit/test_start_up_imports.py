"""What the dashboard imports before its first frame (issue 22: first frame ≤ 1 s, idle RSS): asyncssh
and cryptography (~150 ms and ~16 MiB on these cores) come with the first connection, which the app
starts after its first frame; a host's ssh transport can be made without them."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _imported_after(code: str) -> set[str]:
    probe = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_the_app_and_an_ssh_transport_are_made_without_asyncssh() -> None:
    modules = _imported_after(
        """
        import gb10dash.cli
        import gb10dash.ui.app
        from gb10dash.config import HostConfig, SshSettings
        from gb10dash.transport import make_transport

        host = HostConfig(name="pegasus", api_url="http://127.0.0.1:8000", model_path="/m/x.gguf", ctx=4096,
                          transport="ssh", ssh_alias="pegasus")
        transport = make_transport(host, SshSettings())
        assert type(transport).__name__ == "SshTransport" and not transport.connected
        """
    )
    assert "textual.app" in modules and "gb10dash.transport.ssh" in modules  # the probe did import them
    assert not {"asyncssh", "cryptography"} & modules


def test_connecting_imports_asyncssh() -> None:
    """The lazy imports are where the transport uses them: describing an ssh error needs asyncssh's
    exception types, and gets them."""
    modules = _imported_after(
        """
        from gb10dash.transport.ssh import describe_ssh_error

        assert describe_ssh_error("pegasus", ConnectionRefusedError()) == "pegasus: connection refused"
        """
    )
    assert "asyncssh" in modules
