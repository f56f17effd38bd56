"""Files each lab host and the dashboard read: the unit file, gpu-profile, hosts.toml."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from gb10dash.lab.layout import SERVER_ENV, UNIT, HostSpec, Layout


def unit_arg(arg: str) -> str:
    """One ExecStart word, double-quoted when it has to be (systemd and shlex agree on this)."""
    if "%" in arg or "$" in arg or "\n" in arg:
        raise ValueError(f"{arg!r}: '%', '$' and newlines are not allowed in lab paths")
    if arg and not any(c in arg for c in " \t\"'\\;"):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def exec_start(layout: Layout, spec: HostSpec, api_port: int) -> list[str]:
    hp = layout.host(spec.name)
    return [
        str(hp.llama_server),
        "-m",
        str(hp.models / spec.model),
        "-c",
        str(spec.ctx),
        "--host",
        "127.0.0.1",
        "--port",
        str(api_port),
        "--metrics",
        "--slots",
        "-ngl",
        "999",
        "--load-mode",
        "none",
        "-fa",
        "on",
        *spec.extra_args,
    ]


def write_host_files(layout: Layout, spec: HostSpec, api_port: int, llama_server: Path) -> None:
    """(Re)write the host's unit file (drop-ins are cleared: start means default config),
    etc/gpu-profile, etc/hostname, and llama.cpp/build/bin/llama-server as a link to the real binary."""
    hp = layout.host(spec.name)
    for d in (hp.bin, hp.unit_dir, hp.state, hp.models, hp.llama_server.parent):
        d.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(hp.dropin_dir, ignore_errors=True)
    hp.dropin_dir.mkdir()
    hp.gpu_profile.write_text(spec.gpu_profile + "\n")
    (hp.root / "etc" / "hostname").write_text(spec.name + "\n")  # the shims' journal _HOSTNAME
    if hp.llama_server.is_symlink() or hp.llama_server.exists():
        hp.llama_server.unlink()
    hp.llama_server.symlink_to(llama_server)
    hp.unit_file.write_text(unit_text(spec, exec_start(layout, spec, api_port), working_dir=str(hp.root)))


def unit_text(spec: HostSpec, argv: list[str], *, working_dir: str, user: str | None = None) -> str:
    """llama-server.service as a lab host has it: Restart=on-failure, the lab's server environment."""
    return "\n".join(
        [
            "[Unit]",
            f"Description=llama.cpp server ({spec.name}, gb10dash lab)",
            "After=network-online.target mnt-models.mount",
            "Wants=network-online.target",
            "",
            "[Service]",
            "Type=simple",
            *([f"User={user}", f"Group={user}"] if user else []),
            f"WorkingDirectory={unit_arg(working_dir)}",
            *(f"Environment={k}={v}" for k, v in SERVER_ENV.items()),
            "ExecStart=" + " ".join(unit_arg(a) for a in argv),
            "Restart=on-failure",
            "RestartSec=1",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def _toml(value: str | int | float) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    return repr(value)


def host_paths(layout: Layout, spec: HostSpec) -> dict[str, str]:
    """Where a shim-lab host keeps its model, llama.cpp tree and share (paths on this machine)."""
    hp = layout.host(spec.name)
    return {
        "model_path": str(hp.models / spec.model),
        "llama_cpp_dir": str(hp.llama_cpp_dir),
        "build_dir": str(hp.build_dir),
        "model_share": str(hp.models),
    }


def write_hosts_toml(
    layout: Layout,
    specs: list[HostSpec],
    api_ports: dict[str, int],
    paths: Callable[[Layout, HostSpec], dict[str, str]] = host_paths,
) -> Path:
    out = [
        "# gb10dash lab — generated at each lab start; use with GB10DASH_CONFIG=" + str(layout.hosts_toml),
        "",
        "[ssh]",
        f"config_file = {_toml(str(layout.ssh_config))}",
        "",
        "[canary]",
        "enabled = false  # the wedge canary is off in the lab unless a test turns it on",
        "",
        "[ledger]",
        "path = \"ledger.sqlite3\"  # the lab's own token ledger, beside this file (not the real hosts')",
    ]
    for spec in specs:
        where = paths(layout, spec)
        keys: dict[str, str | int | float] = {
            "name": spec.name,
            "transport": "ssh",
            "ssh_alias": spec.alias,
            "api_url": f"http://127.0.0.1:{api_ports[spec.name]}",
            "unit": UNIT,
            "model_path": where["model_path"],
            "ctx": spec.ctx,
            "llama_cpp_dir": where["llama_cpp_dir"],
            "build_dir": where["build_dir"],
            "model_share": where["model_share"],
            "cuda_arch": spec.cuda_arch,
            "baseline_gen_tps": spec.baseline_gen_tps,
            "baseline_prompt_tps": spec.baseline_prompt_tps,
        }
        out += ["", "[[host]]", *(f"{k} = {_toml(v)}" for k, v in keys.items())]
    layout.hosts_toml.write_text("\n".join(out) + "\n")
    return layout.hosts_toml
