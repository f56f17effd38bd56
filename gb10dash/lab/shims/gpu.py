"""The lab's pretend GPU: a profile (gb10 | h100) plus live values driven by the llama-server unit's CPU use."""

from __future__ import annotations

import math
import os
import random
import subprocess
import time
import uuid
from pathlib import Path

from .common import (
    hostname,
    pid_alive,
    proc_cmdline,
    proc_cpu_seconds,
    proc_exe,
    proc_status_kib,
    read_json,
    state_dir,
    write_json_atomic,
)
from .gpu_controls import read_controls
from .unitstate import read_state

NA = "[N/A]"
GPU_UNIT = "llama-server.service"
FIELDS_FILE = Path(__file__).with_name("query_gpu_fields.txt")

UNITS = {
    "[%]": (
        "utilization.gpu",
        "utilization.memory",
        "utilization.encoder",
        "utilization.decoder",
        "utilization.jpeg",
        "utilization.ofa",
        "fan.speed",
    ),
    "[MiB]": (
        "memory.total",
        "memory.reserved",
        "memory.used",
        "memory.free",
        "protected_memory.total",
        "protected_memory.used",
        "protected_memory.free",
        "used_gpu_memory",
    ),
    "[W]": (
        "power.draw",
        "power.draw.average",
        "power.draw.instant",
        "power.limit",
        "enforced.power.limit",
        "power.default_limit",
        "power.min_limit",
        "power.max_limit",
        "module.power.draw.average",
        "module.power.draw.instant",
        "module.power.limit",
        "module.enforced.power.limit",
        "module.power.default_limit",
        "module.power.min_limit",
        "module.power.max_limit",
    ),
}
UNIT_OF = {field: unit for unit, fields in UNITS.items() for field in fields}
# clocks_event_reasons bits (nvml.h) → the per-reason query field; the slowdowns and how far they pull the SM clock
REASON_FIELDS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
}
HW_SLOWDOWN, SW_SLOWDOWN = 0x8 | 0x40 | 0x80, 0x4 | 0x10 | 0x20

PROFILES = {
    "h100": {
        "name": "NVIDIA H100 80GB HBM3",
        "compute_cap": "9.0",
        "driver_version": "580.159.04",
        "cuda": "13.0",
        "pci.bus_id": "00000000:00:06.0",
        "uuid": "GPU-9c8cbba9-953c-e8c8-98ae-d32a0fd7fdf3",
        "serial": "1752824025700",
        "vbios_version": "96.00.DA.00.0C",
        "pci.device_id": "0x233010DE",
        "pci.sub_device_id": "0x16C110DE",
        "pci.domain": "0x0000",
        "pci.bus": "0x00",
        "pci.device": "0x06",
        "memory.total": 81559,
        "memory.reserved": 480,
        "power.limit": 700.0,
        "power.min_limit": 200.0,
        "idle_power": 72.0,
        "load_power": 630.0,
        "idle_temp": 40.0,
        "load_temp": 17.0,
        "sm_idle": 1980,
        "sm_load": (1350, 1410),
        "clocks.max.sm": 1980,
        "clocks.current.memory": 2619,
        "clocks.max.memory": 2619,
        "pstate_idle": "P0",
        "ecc": "0",
        "mig": "Disabled",
        "pcie.link.gen.current": "5",
        "pcie.link.width.current": "16",
        "ecc.mode.current": "Enabled",
    },
    "gb10": {
        "name": "NVIDIA GB10",
        "compute_cap": "12.1",
        "driver_version": "580.95.05",
        "cuda": "13.0",
        "pci.bus_id": "0000000F:01:00.0",
        "uuid": "",
        "serial": NA,
        "vbios_version": NA,
        "pci.device_id": "0x2E1210DE",
        "pci.sub_device_id": NA,
        "pci.domain": "0x000F",
        "pci.bus": "0x01",
        "pci.device": "0x00",
        "memory.total": None,
        "memory.reserved": None,
        "power.limit": None,
        "power.min_limit": None,
        "idle_power": 4.0,
        "load_power": 50.0,
        "idle_temp": 35.0,
        "load_temp": 35.0,
        "sm_idle": 850,
        "sm_load": (2400, 3003),
        "clocks.max.sm": 3003,
        "clocks.current.memory": None,
        "clocks.max.memory": None,
        "pstate_idle": "P8",
        "ecc": "N/A",
        "mig": "N/A",
        "pcie.link.gen.current": NA,
        "pcie.link.width.current": NA,
        "ecc.mode.current": NA,
    },
}


def query_gpu_fields() -> dict[str, str]:
    """Every name --query-gpu accepts → its canonical name (the CSV header's spelling)."""
    names: dict[str, str] = {}
    for line in FIELDS_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            canonical, *aliases = line.split()
            for name in (canonical, *aliases):
                names.setdefault(name, canonical)
    return names


def load_profile(root: Path) -> dict:
    try:
        name = (root / "etc" / "gpu-profile").read_text().strip() or "gb10"
    except OSError:
        name = "gb10"
    profile = dict(PROFILES.get(name, PROFILES["gb10"]), profile=name)
    if not profile["uuid"]:
        profile["uuid"] = f"GPU-{uuid.uuid5(uuid.NAMESPACE_DNS, 'gb10lab.' + hostname(root))}"
    return profile


class Gpu:
    """Samples the pretend GPU. `load` (0..1) is the CPU share the unit's main process used since the last sample."""

    def __init__(self, root: Path) -> None:
        self.root, self.profile = root, load_profile(root)
        # one per user: in a container host's sticky state dir, a file root's run left could not be
        # replaced by llm-agent's (the stand-in then failed for every later caller)
        self.sample_path = state_dir(root) / f"nvidia-smi-sample-{os.getuid()}.json"
        saved = read_json(self.sample_path) or {}
        if saved.get("profile") != self.profile["profile"]:
            saved = {}
        self.prev = saved if time.time() - saved.get("t", 0) < 30 else {}
        self.temp = float(saved.get("temp", self.profile["idle_temp"]))
        self.saved_at = 0.0
        self._pid, self._pid_asked_at = 0, -1e9

    def main_pid(self) -> int:
        if os.environ.get("GB10LAB_MAINPID") == "systemd":  # a container host: its real systemd knows
            return self._systemd_main_pid()
        pid = read_state(GPU_UNIT, self.root)["main_pid"]
        return pid if pid_alive(pid) else 0

    def _systemd_main_pid(self) -> int:
        """MainPID from the container's systemd, asked at most once a second (a -lms stream samples faster)."""
        now = time.monotonic()
        if now - self._pid_asked_at >= 1.0:
            self._pid_asked_at = now
            try:
                done = subprocess.run(
                    ["systemctl", "show", GPU_UNIT, "-p", "MainPID", "--value"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                )
                self._pid = int(done.stdout.strip() or 0)
            except (OSError, ValueError, subprocess.SubprocessError):
                self._pid = 0
        return self._pid if pid_alive(self._pid) else 0

    def _load(self, pid: int) -> float:
        cpu, now = (proc_cpu_seconds(pid) or 0.0) if pid else 0.0, time.time()
        prev = self.prev
        if not pid or prev.get("pid") != pid or now - prev.get("t", 0) <= 0:
            load = 0.0
        else:
            load = max(0.0, min(1.0, (cpu - prev["cpu"]) / (now - prev["t"])))
        dt = now - prev.get("t", now)
        target = self.profile["idle_temp"] + self.profile["load_temp"] * load
        self.temp += (target - self.temp) * (1 - math.exp(-max(dt, 0.0) / 15.0))
        self.prev = {"pid": pid, "cpu": cpu, "t": now, "temp": self.temp, "profile": self.profile["profile"]}
        if now - self.saved_at >= 1.0:
            write_json_atomic(self.sample_path, self.prev)
            self.saved_at = now
        return load

    def apps(self) -> list[dict]:
        """Every llama-server on this host as a compute process, the unit's first — a real GPU lists each
        process that holds it, whoever started it (a server outside the unit, a watch-only host's)."""
        main = self.main_pid()
        # only a container host's /proc is the host's own: the light lab's hosts share this machine's
        others = _named_pids("llama-server") if os.environ.get("GB10LAB_MAINPID") == "systemd" else []
        pids = ([main] if main else []) + sorted(p for p in others if p != main)
        apps = []
        for pid in pids:
            argv = proc_cmdline(pid)
            apps.append(
                {
                    "pid": str(pid),
                    "process_name": argv[0] if argv else proc_exe(pid),
                    "used_gpu_memory": str((proc_status_kib(pid, "VmRSS") or 0) // 1024),
                }
            )
        return apps

    def sample(self) -> dict[str, str]:
        """Canonical field → value without unit (or [N/A]); fields not listed here read [N/A]."""
        p, pid = self.profile, self.main_pid()
        if pid and not self.prev:
            self.prev = {"pid": pid, "cpu": proc_cpu_seconds(pid) or 0.0, "t": time.time(), "temp": self.temp}
            time.sleep(0.05)
        load, controls = self._load(pid), read_controls(self.root)
        load = load if controls.load is None else controls.load
        jitter = random.uniform(-1, 1)
        util = 0 if load < 0.02 else max(1, min(100, round(load * 100 + 3 * jitter)))
        power = p["idle_power"] + p["load_power"] * load + abs(jitter) * (1.5 if p["profile"] == "h100" else 0.4)
        if controls.power_w is not None:
            power = controls.power_w + 0.3 * jitter
        if util:
            sm = random.randrange(p["sm_load"][0], p["sm_load"][1] + 1, 15)
        else:
            sm = p["sm_idle"]
        # GB10 under load reports no reason (0x0), as recorded; an H100 drawing its 700 W limit: SW power cap
        at_cap = p["power.limit"] is not None and power >= 0.98 * p["power.limit"]
        reasons = 0x1 if not util else 0x4 if at_cap else 0x0
        if controls.reasons is not None:
            reasons = controls.reasons
            sm = sm * 45 // 100 if reasons & HW_SLOWDOWN else sm * 3 // 4 if reasons & SW_SLOWDOWN else sm
        used = sum(int(app["used_gpu_memory"]) for app in self.apps())
        values = {
            key: p[key]
            for key in (
                "name",
                "compute_cap",
                "driver_version",
                "pci.bus_id",
                "uuid",
                "serial",
                "vbios_version",
                "pci.device_id",
                "pci.sub_device_id",
                "pci.domain",
                "pci.bus",
                "pci.device",
                "pcie.link.gen.current",
                "pcie.link.width.current",
                "ecc.mode.current",
            )
        }

        def num(value, fmt="{}") -> str:
            return NA if value is None else fmt.format(value)

        total, now = p["memory.total"], time.time()
        values.update(
            {
                "timestamp": time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}",
                "count": "1",
                "index": "0",
                "persistence_mode": "Enabled",
                "compute_mode": "Default",
                "display_active": "Disabled",
                "display_attached": "No",
                "fan.speed": NA,
                "pstate": "P0" if util else p["pstate_idle"],
                "temperature.gpu": str(round(self.temp)),
                "temperature.memory": str(round(self.temp) - 8) if p["profile"] == "h100" else NA,
                "utilization.gpu": str(util),
                "utilization.memory": str(round(util * 0.3)) if p["profile"] == "h100" else "0",
                "utilization.encoder": "0",
                "utilization.decoder": "0",
                "utilization.jpeg": "0",
                "utilization.ofa": "0",
                "memory.total": num(total),
                "memory.reserved": num(p["memory.reserved"]),
                "memory.used": num(None if total is None else used),
                "memory.free": num(None if total is None else max(0, total - used - p["memory.reserved"] + 1)),
                "power.draw": f"{power:.2f}",
                "power.draw.average": f"{power * 0.99:.2f}",
                "power.draw.instant": f"{power * (1 + 0.02 * jitter):.2f}",
                "power.limit": num(p["power.limit"], "{:.2f}"),
                "enforced.power.limit": num(p["power.limit"], "{:.2f}"),
                "power.default_limit": num(p["power.limit"], "{:.2f}"),
                "power.max_limit": num(p["power.limit"], "{:.2f}"),
                "power.min_limit": num(p["power.min_limit"], "{:.2f}"),
                "clocks.current.sm": str(sm),
                "clocks.current.graphics": str(sm),
                "clocks.current.memory": num(p["clocks.current.memory"]),
                "clocks.max.sm": str(p["clocks.max.sm"]),
                "clocks.max.graphics": str(p["clocks.max.sm"]),
                "clocks.max.memory": num(p["clocks.max.memory"]),
                "clocks_event_reasons.active": f"0x{reasons:016X}",
                **{
                    f"clocks_event_reasons.{name}": "Active" if reasons & bit else "Not Active"
                    for bit, name in REASON_FIELDS.items()
                },
                "mig.mode.current": p["mig"] if p["mig"] != "N/A" else NA,
            }
        )
        return values


def _named_pids(name: str) -> list[int]:
    """The pids of the processes whose name (comm) is `name`, as /proc shows them here."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                continue
    return found
