"""nvidia-smi faults on a lab host, through HostMonitor: missing, failing (driver), refusing a field
(an older driver), [N/A] everywhere, and hung. The GPU sources say what is wrong; the unit's state keeps
coming; the GPU comes back when the fault goes. Figures printed (-s)."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time

import psutil

from gb10dash.lab import Lab

from .faultctl import FAST, monitor_for, running, signal_all, sshd_tree
from .labctl import until

CADENCE = dataclasses.replace(FAST, slow_s=0.5)


def last_error(monitor, source: str) -> str:
    status = monitor.state.sources.get(source)
    return (status.last_error or "") if status and status.failing else ""


class Faults:
    """Switch a host's nvidia-smi fault; the running `-lms` stream is killed so the fault reaches it too
    (as a driver failure would end it)."""

    def __init__(self, lab: Lab, host: str):
        self.lab, self.host = lab, host
        paths = lab.layout.host(host)
        self.flag = paths.state / "nvidia-smi-fail"
        self.binary = paths.nvidia_smi
        self.hidden = self.binary.with_name(".nvidia-smi.hidden")

    def set(self, mode: str) -> None:
        self.clear()
        if mode == "missing":
            self.binary.rename(self.hidden)
        else:
            self.flag.write_text(mode + "\n")
        signal_all(self.streams(), signal.SIGKILL)

    def streams(self) -> list[psutil.Process]:
        found = []
        for proc in sshd_tree(self.lab, self.host):
            with contextlib.suppress(psutil.Error):
                if "shims.nvidia_smi" in " ".join(argv := proc.cmdline()) and "-lms" in argv:  # either lab's
                    found.append(proc)
        return found

    def clear(self) -> None:
        self.flag.unlink(missing_ok=True)
        if self.hidden.exists():
            self.hidden.rename(self.binary)


# mode → (source, words in its error)
FAILING = {
    "missing": ("gpu_apps", "command not found"),
    "error": ("gpu", "NVIDIA-SMI has failed"),
    "unknown-field": ("gpu", "is not a valid field to query"),
    "hang": ("gpu", "sent nothing for 5 s"),
}


async def test_nvidia_smi_faults_are_reported_and_the_rest_goes_on(lab: Lab) -> None:
    faults = Faults(lab, "pegasus")
    monitor = monitor_for(lab, "pegasus", cadence=CADENCE)
    timings: dict[str, float] = {}
    try:
        async with running(monitor):
            await until(
                lambda: (g := monitor.state.gpu) and g.name == "NVIDIA GB10" and monitor.state.unit,
                20,
                "a first GPU sample",
            )
            for mode, (source, words) in FAILING.items():
                faults.set(mode)
                t0 = time.monotonic()
                await until(lambda w=words, s=source: w in last_error(monitor, s), 20, f"{mode} reported on {source}")
                timings[mode] = time.monotonic() - t0
                unit_ok = monitor.state.sources["unit"].last_ok
                await until(
                    lambda t=unit_ok: monitor.state.sources["unit"].last_ok > t, 5, f"unit polled during {mode}"
                )
                faults.clear()
                await until(
                    lambda: not last_error(monitor, "gpu") and not last_error(monitor, "gpu_apps"),
                    20,
                    f"the GPU back after {mode}",
                )
            faults.set("na")
            await until(lambda: (g := monitor.state.gpu) and g.name is None, 20, "an all-N/A sample")
            sample = monitor.state.gpu
            assert all(getattr(sample, f.name) is None for f in dataclasses.fields(sample) if f.name != "extra")
            assert not last_error(monitor, "gpu")  # N/A is "not reported", not an error and never 0
    finally:
        faults.clear()
    print("\nnvidia-smi faults reported after: " + ", ".join(f"{m} {t:.2f} s" for m, t in timings.items()))
