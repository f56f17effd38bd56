"""Human outputs of the nvidia-smi shim: the default table, -L and --version (layout of driver 580)."""

from __future__ import annotations

import time

SEP = "+-----------------------------------------+------------------------+----------------------+"
WIDE = "+" + "-" * 89 + "+"


def _cell_row(a: str, b: str, c: str) -> str:
    return f"|{a:<41}|{b:<24}|{c:<22}|"


def render_table(profile: dict, values: dict[str, str], apps: list[dict]) -> str:
    driver = values["driver_version"]
    power = round(float(values["power.draw"]))
    cap = "N/A " if values["power.limit"] == "[N/A]" else f"{round(float(values['power.limit']))}W"
    if values["memory.total"] == "[N/A]":
        memory = " Not Supported"
    else:
        memory = f"{values['memory.used']:>8}MiB / {values['memory.total']:>6}MiB"
    lines = [
        time.strftime("%a %b %e %H:%M:%S %Y") + "       ",
        WIDE,
        f"| NVIDIA-SMI {driver:<22} Driver Version: {driver:<14} CUDA Version: {profile['cuda']:<9}|",
        SEP,
        "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |",
        "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |",
        "|                                         |                        |               MIG M. |",
        "|=========================================+========================+======================|",
        _cell_row(f"   0  {values['name']:<31}On  ", f"   {values['pci.bus_id']} Off ", f"{profile['ecc']:>21} "),
        _cell_row(
            f" N/A  {values['temperature.gpu']:>3}C    {values['pstate']:<2}{f'{power}W':>16} /  {cap:>4} ",
            memory,
            f"{values['utilization.gpu']:>7}%      Default ",
        ),
        _cell_row("", "", f"{profile['mig']:>21} "),
        SEP,
        "",
        WIDE,
        f"| {'Processes:':<88}|",
        "|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |",
        "|        ID   ID                                                               Usage      |",
        "|" + "=" * 89 + "|",
    ]
    if not apps:
        lines.append(f"| {' No running processes found':<88}|")
    for app in apps:
        name = app["process_name"]
        if len(name) > 36:
            name = "..." + name[-33:]
        lines.append(f"|    0   N/A  N/A    {app['pid']:>12}      C   {name:<37}{app['used_gpu_memory'] + 'MiB':>9} |")
    lines.append(WIDE)
    return "\n".join(lines)


def render_list(values: dict[str, str]) -> str:
    return f"GPU 0: {values['name']} (UUID: {values['uuid']})"


def render_version(values: dict[str, str], profile: dict) -> str:
    driver = values["driver_version"]
    nvml = ".".join(driver.split(".")[:2])
    return (
        f"NVIDIA-SMI version  : {driver}\nNVML version        : {nvml}\nDRIVER version      : {driver}\n"
        f"CUDA Version        : {profile['cuda']}"
    )
