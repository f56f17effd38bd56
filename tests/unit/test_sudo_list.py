"""`sudo -n -l` parsing for the preflight, on output recorded from Debian's sudo (the real-hosts lab's
stella, with the file `gb10dash sudoers` printed) and from the light lab's stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.actions.sudoers import allows, parse_sudo_list

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "sudo"
DROPIN = "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"


def test_the_recorded_listing_gives_each_rule_unescaped() -> None:
    allowed = parse_sudo_list((FIX / "list-lab-stella.txt").read_text())
    assert len(allowed) == 7
    assert "/usr/sbin/sysctl vm.drop_caches=3" in allowed and f"/usr/bin/tee {DROPIN}" in allowed
    assert allows(allowed, ("systemctl", "restart", "llama-server.service"))
    assert allows(allowed, ("tee", DROPIN)) and allows(allowed, ("rm", "-f", DROPIN))
    assert not allows(allowed, ("systemctl", "stop", "llama-server.service"))
    assert not allows(allowed, ("tee", "/etc/sudoers.d/evil")) and not allows(allowed, ("rm", "-rf", DROPIN))


def test_all_wildcards_and_commands_without_arguments() -> None:
    text = "User u may run the following commands on h:\n    (ALL : ALL) NOPASSWD: ALL\n"
    assert parse_sudo_list(text) == ["ALL"] and allows(["ALL"], ("anything", "at", "all"))
    allowed = parse_sudo_list(
        "User u may run the following commands on h:\n"
        "    (root) NOPASSWD: /usr/bin/systemctl, /usr/bin/tee /etc/x/*\n"
        "    (root) /usr/bin/rm -f /etc/x/y\n"  # needs a password: not for sudo -n
        "    (www-data) NOPASSWD: /usr/bin/rm\n"
    )  # not as root
    assert allowed == ["/usr/bin/systemctl", "/usr/bin/tee /etc/x/*"]
    assert allows(allowed, ("systemctl", "daemon-reload")) and allows(allowed, ("tee", "/etc/x/z.conf"))
    assert not allows(allowed, ("rm", "-f", "/etc/x/y"))


def test_root_needs_no_rule() -> None:
    # recorded: `sudo -n -l` as root on this machine (Debian 12)
    assert parse_sudo_list((FIX / "list-root-debian.txt").read_text()) == ["ALL"]


def test_a_listing_without_rules_is_refused() -> None:
    with pytest.raises(ValueError, match="may run the following commands"):
        parse_sudo_list("Sorry, user u may not run sudo on h.\n")
