"""The real-hosts lab is real where it matters: logged into over real OpenSSH as `llm-agent`, a host
runs systemd as PID 1 with Debian's systemctl, journalctl and sudo, grants exactly its sudoers file,
runs llama-server as another user whose /proc files it cannot read, and restarts a killed server by
systemd's own rules. Then gb10dash itself (asyncssh, the collectors) finds both hosts healthy."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from gb10dash.lab.container import LOGIN_USER, SERVER_USER, SUDOERS
from gb10dash.lab.hosts_lab import HostsLab

UNIT = "llama-server.service"


def ssh(lab: HostsLab, host: str, command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """One command on the host as its login user, through the real OpenSSH client and the lab's ssh_config."""
    return subprocess.run(
        ["ssh", "-F", str(lab.ssh_config_path), f"{host}-llm", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def main_pid(lab: HostsLab, host: str) -> int:
    return int(ssh(lab, host, f"systemctl show {UNIT} -p MainPID --value").stdout.strip())


@pytest.mark.parametrize("host", ["pegasus", "stella"])
def test_the_login_is_llm_agent_on_a_booted_systemd(hosts_lab: HostsLab, host: str) -> None:
    done = ssh(hosts_lab, host, "id -un; id -Gn; hostname; cat /proc/1/comm; systemctl is-system-running")
    user, groups, hostname, pid1, system = done.stdout.split("\n")[:5]
    assert (user, hostname, pid1) == (LOGIN_USER, host, "systemd")
    assert "systemd-journal" in groups.split() and "sudo" not in groups.split()
    assert system in ("running", "degraded")


def test_systemctl_journalctl_and_sudo_are_debians(hosts_lab: HostsLab) -> None:
    done = ssh(
        hosts_lab,
        "pegasus",
        "systemctl --version | head -1; journalctl --version | head -1; "
        "sudo -V | head -1; for t in systemctl journalctl sudo; do "
        'dpkg -S "$(command -v $t)" 2>/dev/null || dpkg -S "/bin/$t"; done',
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("systemd 2") and lines[1].startswith("systemd 2"), lines
    assert lines[2].startswith("Sudo version 1.9"), lines
    owners = {line.split(": ")[1].rsplit("/", 1)[1]: line.split(": ")[0] for line in lines[3:]}
    assert owners == {"systemctl": "systemd", "journalctl": "systemd", "sudo": "sudo"}, lines  # Debian's packages


def test_the_sudoers_file_is_what_gb10dash_sudoers_prints(hosts_lab: HostsLab, tmp_path) -> None:
    """Asked of the hosts themselves (login, FragmentPath, where sudo finds each command) and derived
    from the plans: the lab installs exactly that, and visudo accepts it."""
    printed = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(hosts_lab.config_path), "sudoers", "stella"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert printed.returncode == 0, printed.stderr
    installed = (hosts_lab.container("stella").root / SUDOERS.lstrip("/")).read_text()
    assert printed.stdout == installed
    (tmp_path / "gb10dash").write_text(printed.stdout)
    checked = subprocess.run(["visudo", "-cf", str(tmp_path / "gb10dash")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0 and "parsed OK" in checked.stdout, checked.stdout + checked.stderr
    both = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(hosts_lab.config_path), "sudoers"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert both.returncode == 0 and both.stdout.count("NOPASSWD:") == 2 and "# ---- pegasus: install as" in both.stdout


def rules(sudoers: str) -> list[str]:
    """The commands of a sudoers file's one NOPASSWD rule, unescaped as `sudo -l` lists them."""
    body = sudoers.split("NOPASSWD: ", 1)[1].replace("\\\n", " ")
    return [" ".join(rule.split()).replace("\\", "") for rule in body.split(", ")]


def test_sudo_grants_exactly_the_sudoers_file(hosts_lab: HostsLab) -> None:
    denied = ssh(hosts_lab, "stella", f"systemctl start {UNIT}")
    assert denied.returncode != 0 and "Interactive authentication required" in denied.stderr
    outside = ssh(hosts_lab, "stella", f"sudo -n systemctl stop {UNIT}")
    assert outside.returncode == 1 and "a password is required" in outside.stderr
    assert ssh(hosts_lab, "stella", "sudo -n cat /etc/shadow").returncode == 1
    listed = ssh(hosts_lab, "stella", "sudo -n -l")
    allowed = rules((hosts_lab.container("stella").root / SUDOERS.lstrip("/")).read_text())
    assert len(allowed) == 7 and all(command in listed.stdout.replace("\\", "") for command in allowed), listed.stdout
    before = main_pid(hosts_lab, "stella")
    restarted = ssh(hosts_lab, "stella", f"sudo -n systemctl restart {UNIT}", timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert main_pid(hosts_lab, "stella") not in (0, before)
    hosts_lab.wait_ready(60)


def test_the_server_runs_as_another_user_whose_io_is_unreadable(hosts_lab: HostsLab) -> None:
    pid = main_pid(hosts_lab, "pegasus")
    done = ssh(hosts_lab, "pegasus", f"ps -o user= -p {pid}; cat /proc/{pid}/io")
    assert done.stdout.split("\n")[0].strip() == SERVER_USER
    assert done.returncode != 0 and "Permission denied" in done.stderr
    assert "VmRSS" in ssh(hosts_lab, "pegasus", f"cat /proc/{pid}/status").stdout  # status stays readable


def test_the_journal_is_journalds(hosts_lab: HostsLab) -> None:
    done = ssh(hosts_lab, "pegasus", f"journalctl -u {UNIT} -o json -n 5 --no-pager")
    entries = [json.loads(line) for line in done.stdout.splitlines()]
    assert entries and all(e["_SYSTEMD_UNIT"] == UNIT and e["_HOSTNAME"] == "pegasus" for e in entries)
    assert all("__CURSOR" in e and "_BOOT_ID" in e for e in entries)


def test_a_killed_server_is_restarted_by_systemds_rules(hosts_lab: HostsLab) -> None:
    container = hosts_lab.container("pegasus")
    before = main_pid(hosts_lab, "pegasus")
    restarts = int(ssh(hosts_lab, "pegasus", f"systemctl show {UNIT} -p NRestarts --value").stdout)
    assert container.run(["kill", "-KILL", str(before)]).returncode == 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        shown = ssh(hosts_lab, "pegasus", f"systemctl show {UNIT} -p NRestarts -p MainPID -p ActiveState")
        props = dict(line.split("=", 1) for line in shown.stdout.splitlines())
        if int(props["NRestarts"]) == restarts + 1 and props["ActiveState"] == "active" and props["MainPID"] != "0":
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no restart by systemd: {shown.stdout}")
    hosts_lab.wait_ready(60)


def test_nvidia_smi_is_the_stand_in_on_the_real_server(hosts_lab: HostsLab) -> None:
    pid = main_pid(hosts_lab, "stella")
    done = ssh(
        hosts_lab,
        "stella",
        "nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader,nounits",
    )
    assert done.returncode == 0, done.stderr
    fields = [f.strip() for f in done.stdout.strip().split(",")]
    assert int(fields[0]) == pid and fields[1].endswith("llama-server") and int(fields[2]) > 0


def test_gb10dash_status_finds_both_hosts_healthy(hosts_lab: HostsLab) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gb10dash", "--config", str(hosts_lab.config_path), "status", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report, indent=1)[:4000] + done.stderr


def test_a_login_outside_the_journal_groups_sees_no_entries(tmp_path) -> None:
    """The switch for a host set up without llm-agent in systemd-journal: journalctl gives the hint on
    stderr and no entries of the system unit, as on a real host."""
    lab = HostsLab(tmp_path / "lab", hosts=["stella"], journal_group=False)
    try:
        lab.start()
        lab.wait_ready(60)
        done = ssh(lab, "stella", f"id -Gn; journalctl -u {UNIT} -o json -n 5 --no-pager")
        assert "systemd-journal" not in done.stdout.split("\n")[0].split()
        assert done.returncode == 0 and done.stdout.splitlines()[1:] == [] and done.stderr == ""  # json: not a word
        plain = ssh(lab, "stella", f"journalctl -u {UNIT} -n 5 --no-pager")
        assert plain.stdout == "-- No entries --\n"
        assert "not seeing messages from other users and the system" in plain.stderr
    finally:
        lab.stop()
