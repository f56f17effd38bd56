"""The lab shims (systemctl, journalctl, sudo, nvidia-smi) driven as real processes — no mocks."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gb10dash.lab.shims import install_shims, kill_all

from .labctl import wait_for

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
UNIT = "llama-server.service"
SERVICE = r"""
import os, signal, sys, time
args = sys.argv[1:]
print("svc starting", " ".join(args), flush=True)
sys.stdout.buffer.write(b"bad utf8 \xff\xfe line\n")
sys.stdout.write("load: ....\r....\r done\n")
sys.stdout.flush()
sys.stderr.write("svc stderr line\n")
sys.stderr.flush()
if "fail" in args:
    sys.exit(1)
if "ignore-term" in args:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    signal.signal(signal.SIGTERM, lambda *_: (print("got SIGTERM", flush=True), sys.exit(0)))
end = time.monotonic() + 300  # never outlive a broken test run for long
while time.monotonic() < end:
    if "busy" in args:
        sum(range(20000))
    else:
        time.sleep(0.2)
"""
CURSOR_RE = re.compile(r"^s=[0-9a-f]{32};i=[0-9a-f]+;b=[0-9a-f]{32};m=[0-9a-f]+;t=[0-9a-f]+;x=[0-9a-f]{16}$")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class Lab:
    def __init__(self, root: Path, script: Path) -> None:
        self.root, self.script = root, script
        self.env = dict(os.environ, GB10LAB_ROOT=str(root), PATH=f"{root / 'bin'}:{os.environ['PATH']}")
        self.unit_path = root / "etc" / "systemd" / "system" / UNIT

    def write_unit(self, *args: str, restart: str = "on-failure", extra: str = "") -> None:
        self.unit_path.write_text(
            "[Unit]\nDescription=llama.cpp server (lab)\nAfter=network-online.target\n\n[Service]\n"
            f"ExecStart={shlex.join([sys.executable, str(self.script), *args])}\n"
            f"Restart={restart}\nRestartSec=100ms\n{extra}"
        )

    def dropin(self, name: str, text: str) -> Path:
        folder = self.unit_path.with_name(UNIT + ".d")
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(text)
        return folder / name

    def run(self, *argv: str, timeout: float = 30, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=self.env, capture_output=True, timeout=timeout, input=stdin)

    def popen(self, *argv: str) -> subprocess.Popen:
        return subprocess.Popen(list(argv), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def show(self, *props: str) -> dict[str, str]:
        out = self.run("systemctl", "show", UNIT, "-p", ",".join(props)).stdout.decode()
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def state_file(self) -> dict:
        return json.loads((self.root / "state" / "units" / f"{UNIT}.json").read_text())

    def journal(self, *extra: str) -> list[dict]:
        out = self.run("journalctl", "-u", "llama-server", "-o", "json", "--no-pager", *extra).stdout
        return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]

    def messages(self) -> list[str]:
        return [
            m if isinstance(m, str) else bytes(m).decode(errors="replace")
            for m in (e["MESSAGE"] for e in self.journal())
        ]

    def append(self, *messages: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-m", "gb10dash.lab.shims.journal_append", UNIT, *messages],
            env=dict(self.env, PYTHONPATH=str(REPO)),
            capture_output=True,
            timeout=30,
            check=True,
        )
        return result.stdout.decode().split()


@pytest.fixture
def lab(tmp_path: Path):
    root = tmp_path / "host"
    install_shims(root, sys.executable)
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "gpu-profile").write_text("gb10\n")
    (root / "etc" / "hostname").write_text("pegasus\n")
    script = tmp_path / "svc.py"
    script.write_text(SERVICE)
    the_lab = Lab(root, script)
    the_lab.write_unit("--tag", "A")
    yield the_lab
    kill_all(root)


class LineReader:
    """Reads a child's stdout lines on a thread so every read can be bounded."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in iter(stream.readline, b""):
            self.lines.put((time.monotonic(), line.decode(errors="replace").rstrip("\n")))

    def get(self, timeout: float = 10.0) -> tuple[float, str]:
        return self.lines.get(timeout=timeout)


# --- install ------------------------------------------------------------------------------------


def test_install_shims_writes_small_wrappers(tmp_path: Path):
    python = str(tmp_path / "odd dir" / "python3")
    install_shims(tmp_path / "h", python)
    for name, module in (
        ("systemctl", "systemctl"),
        ("journalctl", "journalctl"),
        ("sudo", "sudo"),
        ("nvidia-smi", "nvidia_smi"),
    ):
        path = tmp_path / "h" / "bin" / name
        text = path.read_text()
        assert os.access(path, os.X_OK)
        assert text.startswith("#!/bin/sh\n")
        assert text.rstrip().endswith(f'exec {shlex.quote(python)} -m gb10dash.lab.shims.{module} "$@"')
    assert (tmp_path / "h" / "state").is_dir()


def test_shims_need_lab_root():
    env = {k: v for k, v in os.environ.items() if k != "GB10LAB_ROOT"}
    result = subprocess.run(
        [sys.executable, "-m", "gb10dash.lab.shims.systemctl", "is-active", UNIT],
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert b"GB10LAB_ROOT is not set" in result.stderr


# --- systemctl ----------------------------------------------------------------------------------


def test_never_started_unit_show(lab: Lab):
    asked = lab.show("ExecMainStartTimestamp", "MainPID", "ActiveState", "SubState", "NRestarts", "LoadState")
    assert asked == {
        "ExecMainStartTimestamp": "",
        "MainPID": "0",
        "ActiveState": "inactive",
        "SubState": "dead",
        "NRestarts": "0",
        "LoadState": "loaded",
    }
    full = lab.run("systemctl", "show", "llama-server").stdout.decode().splitlines()
    assert "MainPID=0" in full and "Id=llama-server.service" in full
    assert not any(line.startswith(("ExecMainStartTimestamp=", "DropInPaths=")) for line in full)
    assert f"FragmentPath={lab.unit_path}" in full


def test_start_show_stop_leaves_nothing_behind(lab: Lab):
    started = time.time()
    assert lab.run("systemctl", "start", "llama-server").returncode == 0
    props = lab.show(
        "ActiveState",
        "SubState",
        "MainPID",
        "ExecMainStartTimestamp",
        "ExecMainPID",
        "ExecStart",
        "NRestarts",
        "Result",
        "Id",
    )
    pid = int(props["MainPID"])
    assert (props["ActiveState"], props["SubState"], props["Result"], props["NRestarts"]) == (
        "active",
        "running",
        "success",
        "0",
    )
    assert pid > 0 and alive(pid) and props["ExecMainPID"] == str(pid)
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+", props["ExecMainStartTimestamp"])
    assert re.fullmatch(
        rf"\{{ path={re.escape(sys.executable)} ; argv\[\]={re.escape(sys.executable)} \S+svc\.py --tag A ; "
        rf"ignore_errors=no ; start_time=\[.+\] ; stop_time=\[n/a\] ; pid={pid} ; code=\(null\) ; status=0/0 \}}",
        props["ExecStart"],
    )
    unix = lab.run("systemctl", "--no-pager", "show", UNIT, "--timestamp=unix", "-p", "ExecMainStartTimestamp")
    stamp = unix.stdout.decode().strip()
    assert re.fullmatch(r"ExecMainStartTimestamp=@\d+", stamp)
    assert abs(int(stamp.split("@")[1]) - started) < 30
    value = lab.run("systemctl", "show", UNIT, "--property=MainPID", "--value")
    assert value.stdout.decode() == f"{pid}\n"
    active = lab.run("systemctl", "is-active", UNIT)
    assert (active.returncode, active.stdout) == (0, b"active\n")
    supervisor = lab.state_file()["supervisor_pid"]
    assert alive(supervisor)

    assert lab.run("systemctl", "stop", "llama-server", "--no-pager").returncode == 0
    props = lab.show("ActiveState", "SubState", "MainPID", "Result")
    assert props == {"ActiveState": "inactive", "SubState": "dead", "MainPID": "0", "Result": "success"}
    wait_for(lambda: not alive(pid) and not alive(supervisor), 5, what="service and supervisor to exit")
    inactive = lab.run("systemctl", "is-active", UNIT)
    assert (inactive.returncode, inactive.stdout) == (3, b"inactive\n")
    messages = lab.messages()
    tail = messages[messages.index("Stopping llama-server.service - llama.cpp server (lab)...") :]
    assert "got SIGTERM" in tail
    assert tail[-3:-1] == [
        "llama-server.service: Deactivated successfully.",
        "Stopped llama-server.service - llama.cpp server (lab).",
    ]
    assert tail[-1].startswith("llama-server.service: Consumed ")


def test_restart_gives_a_new_process(lab: Lab):
    lab.run("systemctl", "start", UNIT)
    first = int(lab.show("MainPID")["MainPID"])
    assert lab.run("sudo", "-n", "systemctl", "restart", "llama-server").returncode == 0
    props = lab.show("MainPID", "ActiveState", "NRestarts")
    assert props["ActiveState"] == "active" and props["NRestarts"] == "0"
    second = int(props["MainPID"])
    assert second != first and alive(second) and not alive(first)


def test_unknown_unit_is_reported_like_systemctl(lab: Lab):
    status = lab.run("systemctl", "status", "nope")
    assert (status.returncode, status.stderr) == (4, b"Unit nope.service could not be found.\n")
    start = lab.run("systemctl", "start", "nope.service")
    assert (start.returncode, start.stderr) == (5, b"Failed to start nope.service: Unit nope.service not found.\n")
    active = lab.run("systemctl", "is-active", "nope")
    assert (active.returncode, active.stdout) == (3, b"inactive\n")
    show = lab.run("systemctl", "show", "nope", "-p", "LoadState,ActiveState")
    assert show.stdout.decode().splitlines() == ["LoadState=not-found", "ActiveState=inactive"]


def test_restart_on_failure_after_sigkill(lab: Lab):
    lab.run("systemctl", "start", UNIT)
    first = int(lab.show("MainPID")["MainPID"])
    os.kill(first, signal.SIGKILL)

    def restarted():
        props = lab.show("MainPID", "ActiveState", "NRestarts")
        return props if props["ActiveState"] == "active" and props["MainPID"] not in ("0", str(first)) else None

    props = wait_for(restarted, 10, what="automatic restart")
    assert props["NRestarts"] == "1" and alive(int(props["MainPID"]))
    messages = lab.messages()
    assert "llama-server.service: Main process exited, code=killed, status=9/KILL" in messages
    assert "llama-server.service: Failed with result 'signal'." in messages
    assert "llama-server.service: Scheduled restart job, restart counter is at 1." in messages
    assert messages.count("Started llama-server.service - llama.cpp server (lab).") == 2


def test_failing_execstart_ends_failed_after_start_limit(lab: Lab):
    lab.write_unit("fail")
    assert lab.run("systemctl", "start", UNIT).returncode == 0  # Type=simple: the job itself succeeds
    wait_for(lambda: lab.show("ActiveState")["ActiveState"] == "failed", 20, what="failed state")
    props = lab.show("ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainCode", "NRestarts", "MainPID")
    assert props == {
        "ActiveState": "failed",
        "SubState": "failed",
        "Result": "exit-code",
        "ExecMainStatus": "1",
        "ExecMainCode": "1",
        "NRestarts": "5",
        "MainPID": "0",
    }
    messages = lab.messages()
    assert "llama-server.service: Main process exited, code=exited, status=1/FAILURE" in messages
    assert messages[-3:] == [
        "llama-server.service: Start request repeated too quickly.",
        "llama-server.service: Failed with result 'exit-code'.",
        "Failed to start llama-server.service - llama.cpp server (lab).",
    ]
    again = lab.run("systemctl", "start", UNIT)
    assert again.returncode == 1 and b"start of the service was attempted too often" in again.stderr
    status = lab.run("systemctl", "status", UNIT)
    assert status.returncode == 3 and "Active: failed (Result: exit-code)" in status.stdout.decode()
    assert lab.run("systemctl", "reset-failed", UNIT).returncode == 0
    assert lab.run("systemctl", "is-active", UNIT).stdout == b"inactive\n"


def test_restart_no_fails_once(lab: Lab):
    lab.write_unit("fail", restart="no")
    lab.run("systemctl", "start", UNIT)
    wait_for(lambda: lab.show("ActiveState")["ActiveState"] == "failed", 10, what="failed state")
    assert lab.show("NRestarts", "Result") == {"NRestarts": "0", "Result": "exit-code"}
    is_failed = lab.run("systemctl", "is-failed", UNIT)
    assert (is_failed.returncode, is_failed.stdout) == (0, b"failed\n")


def test_missing_executable_fails_with_203(lab: Lab):
    lab.unit_path.write_text(
        "[Unit]\nDescription=llama.cpp server (lab)\n[Service]\n"
        "ExecStart=/nonexistent/llama-server -m /mnt/models/x.gguf\nRestart=no\n"
    )
    assert lab.run("systemctl", "start", UNIT).returncode == 0
    wait_for(lambda: lab.show("ActiveState")["ActiveState"] == "failed", 10, what="failed state")
    assert lab.show("Result", "ExecMainStatus", "ExecMainCode") == {
        "Result": "exit-code",
        "ExecMainStatus": "203",
        "ExecMainCode": "1",
    }
    messages = lab.messages()
    assert (
        "llama-server.service: Failed at step EXEC spawning /nonexistent/llama-server: No such file or directory"
        in messages
    )
    assert "llama-server.service: Main process exited, code=exited, status=203/EXEC" in messages


def test_status_text(lab: Lab):
    lab.dropin("10-x.conf", "[Service]\nEnvironment=FOO=1\n")
    lab.run("systemctl", "daemon-reload")
    lab.run("systemctl", "start", UNIT)
    pid = lab.show("MainPID")["MainPID"]
    status = lab.run("systemctl", "status", UNIT, "--no-pager")
    lines = status.stdout.decode().splitlines()
    assert status.returncode == 0
    assert lines[0] == "● llama-server.service - llama.cpp server (lab)"
    assert lines[1] == f"     Loaded: loaded ({lab.unit_path}; enabled; preset: enabled)"
    assert lines[2:4] == [f"    Drop-In: {lab.unit_path}.d", "             └─10-x.conf"]
    assert re.fullmatch(r"     Active: active \(running\) since .+; \d+s ago", lines[4])
    assert any(line.startswith(f"   Main PID: {pid} (") for line in lines)
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"FOO=1" in environ and not any(e.startswith(b"GB10LAB_ROOT=") for e in environ)  # systemd's clean env


def test_stop_escalates_to_sigkill_after_timeout(lab: Lab):
    lab.write_unit("ignore-term", extra="TimeoutStopSec=1\n")
    lab.run("systemctl", "start", UNIT)
    pid = int(lab.show("MainPID")["MainPID"])
    time.sleep(0.3)  # let the service install its SIGTERM disposition
    began = time.monotonic()
    assert lab.run("systemctl", "stop", UNIT).returncode == 0
    assert 0.9 < time.monotonic() - began < 8
    assert not alive(pid)
    assert lab.show("ActiveState", "Result") == {"ActiveState": "failed", "Result": "timeout"}
    messages = lab.messages()
    assert "llama-server.service: State 'stop-sigterm' timed out. Killing." in messages
    assert "llama-server.service: Failed with result 'timeout'." in messages


def test_dropin_reset_needs_daemon_reload(lab: Lab):
    lab.run("systemctl", "start", UNIT)
    conf = lab.dropin(
        "10-model.conf",
        f"[Service]\nExecStart=\nExecStart={shlex.join([sys.executable, str(lab.script), '--tag', 'B'])}\n",
    )
    assert lab.show("NeedDaemonReload") == {"NeedDaemonReload": "yes"}
    restart = lab.run("systemctl", "restart", UNIT)
    assert restart.returncode == 0
    assert restart.stderr.decode() == (
        "Warning: The unit file, source configuration file or drop-ins of llama-server.service changed on disk. "
        "Run 'systemctl daemon-reload' to reload units.\n"
    )
    argv = Path(f"/proc/{lab.show('MainPID')['MainPID']}/cmdline").read_bytes().split(b"\0")
    assert argv[-3:-1] == [b"--tag", b"A"]  # still the loaded (old) config

    assert lab.run("systemctl", "daemon-reload").returncode == 0
    assert lab.run("systemctl", "restart", UNIT).stderr == b""
    argv = Path(f"/proc/{lab.show('MainPID')['MainPID']}/cmdline").read_bytes().split(b"\0")
    assert argv[-3:-1] == [b"--tag", b"B"]
    props = lab.show("DropInPaths", "NeedDaemonReload", "ExecStart")
    assert props["DropInPaths"] == str(conf) and props["NeedDaemonReload"] == "no"
    assert "svc.py --tag B ;" in props["ExecStart"]
    cat = lab.run("systemctl", "cat", UNIT).stdout.decode()
    assert f"# {conf}\n[Service]\nExecStart=\n" in cat

    lab.dropin("20-bad.conf", f"[Service]\nExecStart={sys.executable} -c pass\n")  # no reset: two ExecStart=
    lab.run("systemctl", "daemon-reload")
    bad = lab.run("systemctl", "restart", UNIT)
    assert bad.returncode == 1 and b"has a bad unit file setting" in bad.stderr
    assert lab.show("LoadState") == {"LoadState": "bad-setting"}


# --- journalctl ---------------------------------------------------------------------------------


def test_journal_json_lines(lab: Lab):
    lab.run("systemctl", "start", UNIT)
    pid = lab.show("MainPID")["MainPID"]
    wait_for(lambda: len(lab.journal()) >= 5, 10, what="service output in the journal")
    entries = lab.journal()
    for entry in entries:
        for key, value in entry.items():
            assert isinstance(value, str) or (isinstance(value, list) and all(0 <= b <= 255 for b in value)), key
        assert CURSOR_RE.match(entry["__CURSOR"]) and entry["__REALTIME_TIMESTAMP"].isdigit()
        assert entry["_HOSTNAME"] == "pegasus"
    started = next(e for e in entries if e["MESSAGE"].startswith("Started "))
    assert (started["_PID"], started["SYSLOG_IDENTIFIER"], started["UNIT"]) == ("1", "systemd", UNIT)
    service = [e for e in entries if e.get("_SYSTEMD_UNIT") == UNIT]
    assert {e["_PID"] for e in service} == {pid}
    assert {(e["PRIORITY"], e["_TRANSPORT"]) for e in service} == {("6", "stdout")}
    by_message = {bytes(e["MESSAGE"]) if isinstance(e["MESSAGE"], list) else e["MESSAGE"].encode(): e for e in service}
    assert isinstance(by_message[b"bad utf8 \xff\xfe line"]["MESSAGE"], list)
    assert isinstance(by_message[b"load: ....\r....\r done"]["MESSAGE"], list)
    assert by_message[b"svc stderr line"]["MESSAGE"] == "svc stderr line"
    seqnums = [int(e["__SEQNUM"]) for e in entries]
    assert seqnums == sorted(seqnums) and len(set(seqnums)) == len(seqnums)
    short = lab.run("journalctl", "-u", UNIT, "-n", "3").stdout.decode().splitlines()
    assert len(short) == 3
    assert re.fullmatch(
        rf"[A-Z][a-z]{{2}} \d\d \d\d:\d\d:\d\d pegasus python\S*\[{pid}\]: svc stderr line",
        next(line for line in short if "stderr" in line),
    )
    assert any(re.search(r": \[\d+B blob data\]$", line) for line in short)


def test_dmesg_shows_the_kernel_log_alone(lab: Lab):
    """`journalctl -k` (the dashboard's kernel watch) is a journal of kernel messages: this host's has
    none, so the unit's lines are not in it and a follow prints nothing (it used to fail on `-k`, and the
    dashboard started it again every 5 s)."""
    lab.run("systemctl", "start", UNIT)
    wait_for(lambda: len(lab.journal()) >= 5, 10, what="service output in the journal")
    assert lab.run("journalctl", "-k", "-o", "json", "--no-pager").stdout == b"-- No entries --\n"
    assert lab.run("journalctl", "--dmesg", "-q", "--no-pager").stdout == b""
    follow = lab.popen("journalctl", "-k", "-o", "json", "--all", "--no-pager", "-f", "--since=@0")
    try:
        time.sleep(1.0)
        assert follow.poll() is None  # still following
    finally:
        follow.kill()
        out, _ = follow.communicate(timeout=5)
    assert out == b""


def test_after_cursor_resumes_exactly(lab: Lab):
    cursors = lab.append(*[f"line {i}" for i in range(20)])
    assert len(cursors) == 20 and all(CURSOR_RE.match(c) for c in cursors)
    after = lab.journal(f"--after-cursor={cursors[9]}")
    assert [e["MESSAGE"] for e in after] == [f"line {i}" for i in range(10, 20)]
    assert after[0]["__CURSOR"] == cursors[10]
    assert [e["MESSAGE"] for e in lab.journal("--after-cursor", cursors[-1])] == []
    assert [e["MESSAGE"] for e in lab.journal("-n", "3")] == ["line 17", "line 18", "line 19"]
    bad = lab.run("journalctl", "-u", UNIT, "-o", "json", "--after-cursor=garbage")
    assert (bad.returncode, bad.stderr) == (1, b"Failed to seek to cursor: Invalid argument\n")


def test_concurrent_appends_keep_one_order(lab: Lab):
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gb10dash.lab.shims.journal_append", UNIT, *[f"w{w} {i}" for i in range(25)]],
            env=dict(lab.env, PYTHONPATH=str(REPO)),
            stdout=subprocess.DEVNULL,
        )
        for w in range(4)
    ]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    entries = lab.journal()
    assert sorted(int(e["__SEQNUM"]) for e in entries) == list(range(1, 101))
    for w in range(4):
        assert [e["MESSAGE"] for e in entries if e["MESSAGE"].startswith(f"w{w} ")] == [f"w{w} {i}" for i in range(25)]


def test_follow_streams_new_lines_and_exits_when_killed(lab: Lab):
    cursors = lab.append("old 1", "old 2")
    proc = lab.popen("journalctl", "-u", "llama-server", "-f", "-o", "json", f"--after-cursor={cursors[0]}")
    try:
        reader = LineReader(proc)
        assert json.loads(reader.get()[1])["MESSAGE"] == "old 2"
        lab.append("new 1", "new 2")
        assert [json.loads(reader.get()[1])["MESSAGE"] for _ in range(2)] == ["new 1", "new 2"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == -signal.SIGTERM
        assert proc.stderr.read() == b""
    finally:
        proc.kill()
        proc.wait(timeout=5)


def test_follow_exits_when_its_reader_goes_away(lab: Lab):
    proc = lab.popen("journalctl", "-u", UNIT, "-f", "-o", "json")
    try:
        time.sleep(0.5)
        proc.stdout.close()  # the ssh channel closed: no signal, just a dead pipe
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait(timeout=5)


# --- sudo -----------------------------------------------------------------------------------------


def test_sudo_password_required_and_plain_exec(lab: Lab):
    flag = lab.root / "state" / "sudo-password-required"
    flag.touch()
    refused = lab.run("sudo", "-n", "systemctl", "restart", UNIT)
    assert (refused.returncode, refused.stderr) == (1, b"sudo: a password is required\n")
    no_tty = lab.run("sudo", "systemctl", "restart", UNIT)
    assert no_tty.returncode == 1 and no_tty.stderr.startswith(b"sudo: a terminal is required to read the password")
    assert lab.show("ActiveState") == {"ActiveState": "inactive"}
    flag.unlink()
    passed = lab.run("sudo", "-n", "systemctl", "is-active", UNIT)
    assert (passed.returncode, passed.stdout) == (3, b"inactive\n")
    missing = lab.run("sudo", "-n", "no-such-command-xyz")
    assert (missing.returncode, missing.stderr) == (1, b"sudo: no-such-command-xyz: command not found\n")


# --- nvidia-smi -----------------------------------------------------------------------------------


def test_nvidia_smi_gb10_memory_is_not_available(lab: Lab):
    out = lab.run(
        "nvidia-smi", "--query-gpu=index,name,memory.total,memory.used,memory.free", "--format=csv,noheader,nounits"
    )
    assert (out.returncode, out.stdout) == (0, b"0, NVIDIA GB10, [N/A], [N/A], [N/A]\n")
    out = (
        lab.run(
            "nvidia-smi",
            "--query-gpu=clocks.sm,gpu_name,compute_cap,driver_version,power.limit,utilization.memory,power.draw",
            "--format=csv",
        )
        .stdout.decode()
        .splitlines()
    )
    assert out[0] == (
        "clocks.current.sm [MHz], name, compute_cap, driver_version, power.limit [W], "
        "utilization.memory [%], power.draw [W]"
    )
    assert re.fullmatch(r"\d+ MHz, NVIDIA GB10, 12\.1, 580\.95\.05, \[N/A\], 0 %, \d+\.\d\d W", out[1])
    table = lab.run("nvidia-smi").stdout.decode()
    assert "| Not Supported          |" in table and "0000000F:01:00.0" in table
    assert "No running processes found" in table
    listing = lab.run("nvidia-smi", "-L").stdout.decode()
    assert re.fullmatch(r"GPU 0: NVIDIA GB10 \(UUID: GPU-[0-9a-f-]{36}\)\n", listing)


def test_nvidia_smi_compute_apps_follow_the_unit(lab: Lab):
    query = ("nvidia-smi", "--query-compute-apps=pid,process_name,used_memory", "--format=csv")
    assert lab.run(*query).stdout == b"pid, process_name, used_gpu_memory [MiB]\n"
    assert lab.run(*query[:2], "--format=csv,noheader").stdout == b""
    lab.run("systemctl", "start", UNIT)
    pid = lab.show("MainPID")["MainPID"]
    rows = lab.run(*query[:2], "--format=csv,noheader,nounits").stdout.decode().splitlines()
    assert len(rows) == 1
    row_pid, name, used = rows[0].split(", ")
    assert (row_pid, name) == (pid, sys.executable) and int(used) > 0


def test_nvidia_smi_h100_profile(lab: Lab):
    (lab.root / "etc" / "gpu-profile").write_text("h100\n")
    out = lab.run(
        "nvidia-smi",
        "--query-gpu=name,compute_cap,memory.total,memory.used,memory.free,power.limit,pci.bus_id,uuid",
        "--format=csv,noheader",
    ).stdout.decode()
    assert out == (
        "NVIDIA H100 80GB HBM3, 9.0, 81559 MiB, 0 MiB, 81080 MiB, 700.00 W, 00000000:00:06.0, "
        "GPU-9c8cbba9-953c-e8c8-98ae-d32a0fd7fdf3\n"
    )
    table = lab.run("nvidia-smi").stdout.decode().splitlines()
    assert table[8] == "|   0  NVIDIA H100 80GB HBM3          On  |   00000000:00:06.0 Off |                    0 |"
    assert re.fullmatch(
        r"\| N/A   \d\dC    P0 +\d+W /  700W \|       0MiB /  81559MiB \| +\d+%      Default \|", table[9]
    )


def test_nvidia_smi_loop_emits_at_the_interval(lab: Lab):
    proc = lab.popen(
        "nvidia-smi", "--query-gpu=timestamp,utilization.gpu,temperature.gpu", "--format=csv,nounits", "-lms", "200"
    )
    try:
        reader = LineReader(proc)
        assert reader.get()[1] == "timestamp, utilization.gpu [%], temperature.gpu"
        rows = [reader.get() for _ in range(6)]
    finally:
        proc.kill()
        proc.wait(timeout=5)
    for _, row in rows:
        assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}, \d+, \d+", row)
    stamps = [
        time.mktime(time.strptime(r.split(".")[0], "%Y/%m/%d %H:%M:%S")) + int(r.split(".")[1][:3]) / 1000
        for _, r in rows
    ]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert 0.15 < sum(gaps) / len(gaps) < 0.3 and all(0.05 < gap < 0.6 for gap in gaps), gaps


def test_nvidia_smi_utilization_follows_service_load(lab: Lab):
    lab.write_unit("busy")
    lab.run("systemctl", "start", UNIT)
    proc = lab.popen("nvidia-smi", "--query-gpu=utilization.gpu,pstate", "--format=csv,noheader,nounits", "-lms", "300")
    try:
        reader = LineReader(proc)
        rows = [reader.get()[1] for _ in range(4)]
    finally:
        proc.kill()
        proc.wait(timeout=5)
    busy = [row for row in rows[1:] if int(row.split(", ")[0]) > 5]
    assert busy and all(row.endswith(", P0") for row in busy), rows


def test_nvidia_smi_errors_match_the_real_tool(lab: Lab):
    bad_field = lab.run("nvidia-smi", "--query-gpu=name,foo", "--format=csv,noheader")
    assert (bad_field.returncode, bad_field.stdout) == (2, b'Field "foo" is not a valid field to query.\n\n')
    bad_app_field = lab.run("nvidia-smi", "--query-compute-apps=foo", "--format=csv")
    assert bad_app_field.returncode == 2
    bad_format = lab.run("nvidia-smi", "--query-gpu=name", "--format=json")
    assert (bad_format.returncode, bad_format.stdout) == (2, b"Format modifier is not recognized.\n")
    bogus = lab.run("nvidia-smi", "--bogus")
    assert (bogus.returncode, bogus.stdout) == (
        255,
        b"ERROR: Option --bogus is not recognized. Please run 'nvidia-smi -h'.\n\n",
    )
    (lab.root / "state" / "nvidia-smi-fail").write_text("error\n")
    failed = lab.run("nvidia-smi", "--query-gpu=name", "--format=csv")
    assert failed.returncode == 9 and failed.stdout.startswith(b"NVIDIA-SMI has failed because it couldn't")


def test_journal_vacuum_keeps_the_newest_entries_and_their_numbers(tmp_path: Path):
    from gb10dash.lab.shims.journal import Journal

    journal = Journal(tmp_path)
    journal.append([{"MESSAGE": f"line {i}", "_TRANSPORT": "stdout"} for i in range(10)])
    assert journal.vacuum(20) == 0
    assert journal.vacuum(3) == 7
    kept, _ = journal.read_from(0)
    assert [e["MESSAGE"] for _, e in kept] == ["line 7", "line 8", "line 9"]
    journal.append([{"MESSAGE": "after", "_TRANSPORT": "stdout"}])
    entries, _ = Journal(tmp_path).read_from(0)
    assert [int(e["__SEQNUM"]) for _, e in entries] == [8, 9, 10, 11]
