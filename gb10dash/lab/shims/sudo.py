"""sudo shim: `sudo [-n] [-E] [-H] [-u USER] [--] CMD ARGS...`, and `sudo [-n] -l`.

If $GB10LAB_ROOT/state/sudo-password-required exists, behaves like sudo without a NOPASSWD rule (exact
messages, exit 1). Otherwise execs CMD with the caller's PATH followed by Debian's sudo secure_path (so
`sudo -n systemctl …` reaches the lab's systemctl shim, and `sudo -n sysctl …` finds /usr/sbin/sysctl
as real sudo does). Paths are passed through untouched: `sudo tee /etc/…` writes the real /etc/….
"""

from __future__ import annotations

import os
import sys

from .common import lab_root, run_main

USAGE = (
    "usage: sudo -h | -K | -k | -V\n"
    "usage: sudo -v [-ABkNnS] [-g group] [-h host] [-p prompt] [-u user]\n"
    "usage: sudo -l [-ABkNnS] [-g group] [-h host] [-p prompt] [-U user] [-u user] [command [arg ...]]\n"
    "usage: sudo [-ABbEHkNnPS] [-C num] [-D directory] [-g group] [-h host] [-p prompt] [-R directory] "
    "[-T timeout] [-u user] [VAR=value] [-i | -s] [command [arg ...]]\n"
    "usage: sudo -e [-ABkNnS] [-C num] [-D directory] [-g group] [-h host] [-p prompt] [-R directory] "
    "[-T timeout] [-u user] file ..."
)
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's sudoers default
WITH_VALUE = {"-u", "-g", "-h", "-p", "-C", "-D", "-R", "-T", "-U"}


def _listing() -> str:
    """What `sudo -l` prints for a user whose one rule is `ALL=(ALL : ALL) NOPASSWD: ALL` (the light lab
    lets every command through), in sudo's layout."""
    import getpass
    import socket

    user, host = getpass.getuser(), socket.gethostname()
    return (
        f"Matching Defaults entries for {user} on {host}:\n    env_reset, mail_badpass,\n"
        f"    secure_path={SECURE_PATH.replace(':', chr(92) + ':')}, use_pty\n\n"
        f"User {user} may run the following commands on {host}:\n    (ALL : ALL) NOPASSWD: ALL\n"
    )


def main(argv: list[str]) -> int:
    non_interactive, listing, i = False, False, 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        i += 1
        if arg == "--":
            break
        if arg in WITH_VALUE:
            i += 1
        elif arg.startswith("--"):
            non_interactive = non_interactive or arg == "--non-interactive"
        else:
            non_interactive = non_interactive or "n" in arg[1:]
            listing = listing or "l" in arg[1:]
    command = argv[i:]
    if listing and not command:
        if (lab_root() / "state" / "sudo-password-required").exists():
            print("sudo: a password is required", file=sys.stderr)
            return 1
        print(_listing(), end="")
        return 0
    if not command:
        print(USAGE, file=sys.stderr)
        return 1
    if (lab_root() / "state" / "sudo-password-required").exists():
        if non_interactive:
            print("sudo: a password is required", file=sys.stderr)
        else:
            print(
                "sudo: a terminal is required to read the password; either use the -S option to read from "
                "standard input or configure an askpass helper\nsudo: a password is required",
                file=sys.stderr,
            )
        return 1
    sys.stdout.flush()
    os.environ["PATH"] = os.pathsep.join([os.environ.get("PATH", ""), SECURE_PATH]).lstrip(os.pathsep)
    try:
        os.execvp(command[0], command)
    except FileNotFoundError:
        print(f"sudo: {command[0]}: command not found", file=sys.stderr)
    except PermissionError:
        print(f"sudo: unable to execute {command[0]}: Permission denied", file=sys.stderr)
    return 1


if __name__ == "__main__":
    run_main(main)
