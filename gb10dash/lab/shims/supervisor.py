"""The detached supervisor of one unit: runs ExecStart, journals its output, restarts it, stops it.

Started by `systemctl start` (double fork + setsid); SIGTERM to the supervisor means `systemctl stop`.
Usage: python -m gb10dash.lab.shims.supervisor UNIT
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid

from .common import lab_root, now_us, proc_comm, run_main
from .journal import Journal, stdout_fields, systemd_fields, unit_meta
from .unitfile import DEFAULT_PATH, expand_env, resolve_exec
from .unitstate import locked_state, record_start, set_active

EXIT_NAMES = {
    0: "SUCCESS",
    1: "FAILURE",
    2: "INVALIDARGUMENT",
    3: "NOTIMPLEMENTED",
    4: "NOPERMISSION",
    5: "NOTINSTALLED",
    6: "NOTCONFIGURED",
    7: "NOTRUNNING",
    200: "CHDIR",
    203: "EXEC",
}
CLEAN_SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE)
CLD_EXITED, CLD_KILLED, CLD_DUMPED = 1, 2, 3


def status_text(code: int, status: int) -> str:
    """`code=exited, status=1/FAILURE` / `code=killed, status=9/KILL` as systemd logs it."""
    if code == CLD_EXITED:
        return f"code=exited, status={status}/{EXIT_NAMES.get(status, 'n/a')}"
    name = signal.Signals(status).name[3:] if status in signal.Signals._value2member_map_ else "n/a"
    return f"code={'dumped' if code == CLD_DUMPED else 'killed'}, status={status}/{name}"


def cpu_text(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms" if seconds < 1 else f"{seconds:.3f}s"


class Supervisor:
    def __init__(self, unit: str) -> None:
        self.unit, self.root = unit, lab_root()
        self.journal = Journal(self.root)
        self.stop_requested = False
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGHUP, lambda *_: None)  # a handler, not SIG_IGN: exec resets it for the service
        with locked_state(unit, self.root) as state:
            state["supervisor_pid"] = os.getpid()
            self.cfg = state["config"]
            self.invocation_id = state["invocation_id"] or uuid.uuid4().hex
        self.name = f"{unit} - {self.cfg['description']}"
        self.cpu = 0.0

    def _on_stop(self, signum, frame) -> None:
        self.stop_requested = True

    def log(self, message: str, priority: int = 6, **extra: str) -> None:
        self.journal.append([systemd_fields(self.unit, message, priority, self.invocation_id, extra)])

    def _wait(self, fds: list[int], timeout: float | None) -> list[int]:
        try:
            ready, _, _ = select.select(fds + [self.wake_r], [], [], timeout)
        except InterruptedError:
            ready = []
        if self.wake_r in ready:
            while True:
                try:
                    if not os.read(self.wake_r, 512):
                        break
                except BlockingIOError:
                    break
        return ready

    def finish(self, active: str, sub: str, **fields) -> None:
        with locked_state(self.unit, self.root) as state:
            state.update(fields, main_pid=0, supervisor_pid=0)
            set_active(state, active, sub)

    # --- one run of ExecStart -----------------------------------------------------------------
    def spawn(self) -> subprocess.Popen | None:
        entry = self.cfg["exec_start"][0]
        env = {"PATH": DEFAULT_PATH, "LANG": os.environ.get("LANG", "C.UTF-8"), "INVOCATION_ID": self.invocation_id}
        env.update(self.cfg["environment"])
        argv = expand_env(entry["argv"], env)
        path = resolve_exec(argv)
        cwd = os.path.expanduser(self.cfg["working_directory"] or "/")
        try:
            if not os.path.isdir(cwd):
                raise NotADirectoryError(2, "No such file or directory", cwd)
            proc = subprocess.Popen(
                argv,
                executable=path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                process_group=0,
                close_fds=True,
            )
        except OSError as exc:
            step, status = ("CHDIR", 200) if isinstance(exc, NotADirectoryError) else ("EXEC", 203)
            if isinstance(exc, FileNotFoundError) and step == "EXEC":
                self.log(f"{self.unit}: Failed to locate executable {path}: {exc.strerror}", 3)
            self.log(f"{self.unit}: Failed at step {step} spawning {path}: {exc.strerror}", 3)
            self._started(0, argv, path, entry["ignore_errors"])
            self.exit_info = (CLD_EXITED, status)
            return None
        self._started(proc.pid, argv, path, entry["ignore_errors"])
        meta = unit_meta(self.unit, argv, proc.pid, self.invocation_id, self.cfg["syslog_identifier"])
        self.pump = threading.Thread(target=self._pump, args=(proc, meta), daemon=True)
        self.pump.start()
        return proc

    def _started(self, pid: int, argv: list[str], path: str, ignore: bool) -> None:
        self.log(f"Started {self.name}.", 6, JOB_TYPE="start", JOB_RESULT="done")
        with locked_state(self.unit, self.root) as state:
            state.update(
                main_pid=pid,
                exec_main_pid=pid,
                exec_main_code=0,
                exec_main_status=0,
                exec_argv=argv,
                exec_path=path,
                exec_ignore_errors=ignore,
                exec_main_start=list(now_us()),
                exec_main_exit=[0, 0],
                invocation_id=self.invocation_id,
                result="success",
            )
            set_active(state, "active", "running")

    def _pump(self, proc: subprocess.Popen, meta: dict) -> None:
        for raw in iter(proc.stdout.readline, b""):
            self.journal.append([stdout_fields(meta, proc.pid, raw[:-1] if raw.endswith(b"\n") else raw)])

    def _reap(self, proc: subprocess.Popen, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        pidfd = os.pidfd_open(proc.pid)
        try:
            while True:
                pid, wstatus, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(wstatus)
                    self.cpu = usage.ru_utime + usage.ru_stime
                    if os.WIFSIGNALED(wstatus):
                        code = CLD_DUMPED if os.WCOREDUMP(wstatus) else CLD_KILLED
                        self.exit_info = (code, os.WTERMSIG(wstatus))
                    else:
                        self.exit_info = (CLD_EXITED, os.WEXITSTATUS(wstatus))
                    self.pump.join(timeout=2)
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if (left is not None and left <= 0) or (self.stop_requested and not self.stopping):
                    return False
                self._wait([pidfd], left if left is not None else None)
        finally:
            os.close(pidfd)

    def _killpg(self, pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    # --- outcomes -----------------------------------------------------------------------------
    def _clean(self) -> bool:
        code, status = self.exit_info
        return (code == CLD_EXITED and status == 0) or (code != CLD_EXITED and status in CLEAN_SIGNALS)

    def _result(self) -> str:
        code = self.exit_info[0]
        return "success" if self._clean() else {CLD_EXITED: "exit-code", CLD_KILLED: "signal"}.get(code, "core-dump")

    def _exit_fields(self, result: str) -> dict:
        code, status = self.exit_info
        return {"exec_main_code": code, "exec_main_status": status, "exec_main_exit": list(now_us()), "result": result}

    def stop(self, proc: subprocess.Popen) -> None:
        self.stopping = True
        self.log(f"Stopping {self.name}...", 6, JOB_TYPE="stop")
        with locked_state(self.unit, self.root) as state:
            set_active(state, "deactivating", "stop-sigterm")
        self._killpg(proc.pid, signal.SIGTERM)
        timed_out = not self._reap(proc, self.cfg["timeout_stop_sec"])
        if timed_out:
            self.log(f"{self.unit}: State 'stop-sigterm' timed out. Killing.", 4)
            self.log(f"{self.unit}: Killing process {proc.pid} ({proc_comm(proc.pid)}) with signal SIGKILL.", 4)
            self._killpg(proc.pid, signal.SIGKILL)
            self._reap(proc, 10)
        self._killpg(proc.pid, signal.SIGKILL)  # KillMode=control-group: nothing of the unit survives a stop
        result = "timeout" if timed_out else self._result()
        if result == "success":
            self.log(f"{self.unit}: Deactivated successfully.", 6)
        else:
            self.log(f"{self.unit}: Main process exited, {status_text(*self.exit_info)}", 5)
            self.log(f"{self.unit}: Failed with result '{result}'.", 4)
        self.log(f"Stopped {self.name}.", 6, JOB_TYPE="stop", JOB_RESULT="done")
        self.log(f"{self.unit}: Consumed {cpu_text(self.cpu)} CPU time.", 6)
        self.finish(
            "inactive" if result == "success" else "failed",
            "dead" if result == "success" else "failed",
            **self._exit_fields(result),
        )

    def exited(self) -> bool:
        """Main process ended on its own: journal it, set state; True when Restart= asks for a restart."""
        clean, result = self._clean(), self._result()
        killed = self.exit_info[0] != CLD_EXITED
        policy = {
            "always": True,
            "on-success": clean,
            "on-failure": not clean,
            "on-abnormal": killed and not clean,
            "on-abort": killed and not clean,
        }
        restart = policy.get(self.cfg["restart"], False)
        if clean:
            self.log(f"{self.unit}: Deactivated successfully.", 6)
        else:
            self.log(f"{self.unit}: Main process exited, {status_text(*self.exit_info)}", 5)
            self.log(f"{self.unit}: Failed with result '{result}'.", 4)
        if self.cpu:
            self.log(f"{self.unit}: Consumed {cpu_text(self.cpu)} CPU time.", 6)
        with locked_state(self.unit, self.root) as state:
            state.update(self._exit_fields(result), main_pid=0)
            if restart:
                set_active(state, "activating", "auto-restart")
            else:
                state["supervisor_pid"] = 0
                set_active(state, "inactive" if clean else "failed", "dead" if clean else "failed")
        return restart

    def scheduled_restart(self) -> bool:
        """After RestartSec: count the restart, test the start limit; False when the unit gave up."""
        with locked_state(self.unit, self.root) as state:
            state["n_restarts"] += 1
            allowed = record_start(state, time.monotonic())
            count, result = state["n_restarts"], state["result"]
        self.log(f"{self.unit}: Scheduled restart job, restart counter is at {count}.", 6)
        self.log(f"Stopped {self.name}.", 6, JOB_TYPE="restart", JOB_RESULT="done")
        if allowed:
            self.invocation_id = uuid.uuid4().hex
            return True
        self.log(f"{self.unit}: Start request repeated too quickly.", 4)
        self.log(f"{self.unit}: Failed with result '{result}'.", 4)
        self.log(f"Failed to start {self.name}.", 3, JOB_TYPE="start", JOB_RESULT="failed")
        self.finish("failed", "failed")
        return False

    def run(self) -> int:
        while True:
            self.stopping, self.cpu = False, 0.0
            proc = self.spawn()
            if proc is not None and not self._reap(proc, None):
                self.stop(proc)
                return 0
            if not self.exited():
                return 0
            self._wait([], self.cfg["restart_sec"])
            if self.stop_requested:  # stop during auto-restart: straight to inactive/dead
                self.finish("inactive", "dead")
                return 0
            if not self.scheduled_restart():
                return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m gb10dash.lab.shims.supervisor UNIT", file=sys.stderr)
        return 2
    return Supervisor(argv[0]).run()


if __name__ == "__main__":
    run_main(main)
