"""Model listing and GGUF headers against the lab, over the real ssh transport (real sshd, find, SFTP)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from gb10dash.actions.models import list_models
from gb10dash.actions.swap import current_exec_start, dropin_path, dropin_text, plan_swap, read_dropin
from gb10dash.collectors.systemd import collect_unit
from gb10dash.config import SshSettings
from gb10dash.lab import Lab
from gb10dash.lab.models import ModelSpec, write_model
from gb10dash.transport.ssh import SshTransport

from . import labctl

SPLIT = "gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4 (3 parts)"
SINGLES = (
    "Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf",
    "Qwen3-32B-GGUF/Qwen_Qwen3-32B-Q4_K_M.gguf",
    "Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf",
)


async def connected(lab: Lab, host: str) -> SshTransport:
    settings = SshSettings(config_file=lab.ssh_config_path, connect_timeout_s=5, keepalive_interval_s=1)
    transport = SshTransport(host, f"{host}-llm", settings)
    await asyncio.wait_for(transport.connect(), 15)
    return transport


async def test_the_lab_share_is_listed_grouped_with_headers_read_remotely(lab: Lab) -> None:
    share = labctl.config(lab).host("pegasus").model_share
    transport = await connected(lab, "pegasus")
    try:
        models = await asyncio.wait_for(list_models(transport, share), 60)
    finally:
        await transport.close()
    by_name = {m.display_name: m for m in models}
    assert set(by_name) == {SPLIT, *SINGLES, "broken-GGUF/corrupt.gguf", "Qwen3-8B-safetensors/"}
    assert [m.display_name for m in models if m.enabled] == sorted([SPLIT, *SINGLES], key=str.casefold)

    split = by_name[SPLIT]
    assert split.path == f"{share}/gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4-00001-of-00003.gguf"
    assert [Path(p).name for p in split.parts] == [f"gpt-oss-120b-mxfp4-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
    assert split.total_bytes == sum(os.path.getsize(labctl.local_path(lab, "pegasus", p)) for p in split.parts)
    h = split.header
    assert (h.architecture, h.quant, h.context_length, h.block_count, h.split_count) == ("llama", "MXFP4", 4096, 8, 3)
    assert h.name == "gpt-oss-120b (gb10dash lab)" and split.parameter_count and split.parameter_count > 1_000_000

    q8 = by_name["Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf"]
    assert (q8.header.quant, q8.header.embedding_length, q8.parts) == ("Q8_0", 256, (q8.path,))
    assert by_name["Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf"].header.quant == "Q4_0"

    corrupt = by_name["broken-GGUF/corrupt.gguf"]
    assert not corrupt.enabled and corrupt.reason.startswith("corrupt GGUF")
    safetensors = by_name["Qwen3-8B-safetensors/"]
    assert not safetensors.enabled and "config.json" in safetensors.reason


async def test_hostile_names_survive_the_remote_listing_and_sftp(lab: Lab, tmp_path: Path) -> None:
    """A share in a directory of the host's, written from here."""
    share, remote = labctl.host_dir(lab, "stella", tmp_path / "share")
    names = ['it\'s "q" $(touch pwned); x', "new\nline", "Modèle 模型", "semi;colon"]
    for name in names:
        write_model(ModelSpec(f"{name}/{name}-Q8_0.gguf", 64, 2, "Q8_0"), share)
    write_model(ModelSpec("split $(x)/s-00001-of-00002.gguf", 64, 2, "Q8_0", splits=2), share)
    transport = await connected(lab, "stella")
    try:
        models = await asyncio.wait_for(list_models(transport, remote), 60)
    finally:
        await transport.close()
    assert sorted(m.path for m in models) == sorted(
        [f"{remote}/{n}/{n}-Q8_0.gguf" for n in names] + [f"{remote}/split $(x)/s-00001-of-00002.gguf"]
    )
    assert all(m.enabled and m.header.quant == "Q8_0" for m in models), [m.reason for m in models]
    homes = [Path.home(), labctl.local_path(lab, "stella", "/home/llm-agent")]
    assert not any(
        p.name == "pwned"
        for p in [*tmp_path.rglob("pwned"), *share.rglob("pwned"), *(f for h in homes for f in h.glob("pwned"))]
    )


async def test_swap_plan_from_the_lab_unit(lab: Lab) -> None:
    """The plan for the real lab unit: the drop-in goes next to its FragmentPath, argv read exactly."""
    host = labctl.config(lab).host("stella")
    transport = await connected(lab, "stella")
    try:
        unit = await collect_unit(transport, host.unit)
        argv = await current_exec_start(transport, unit)
        path = dropin_path(unit)
        previous = await read_dropin(transport, path)
        models = await asyncio.wait_for(list_models(transport, host.model_share), 60)
    finally:
        await transport.close()
    assert argv == unit.exec_start and "-m" in argv
    local = lab.layout.host("stella").dropin_dir / "gb10dash-model.conf"
    assert path == labctl.remote_path(lab, "stella", local)
    on_disk = local.read_text() if local.exists() else None
    assert previous == on_disk
    q14 = next(m for m in models if m.display_name.startswith("Qwen3-14B"))
    plan = plan_swap(host, unit, q14, ctx=2048, previous_dropin=previous, timeout_s=60)
    written = next(s for s in plan.steps if s.argv[:3] == ("sudo", "-n", "tee"))
    assert written.stdin == dropin_text(_rewritten(argv, q14.path))
    assert plan.steps[-1].expect == "Qwen3-14B-Q4_K_M.gguf"


def _rewritten(argv: tuple[str, ...], path: str) -> tuple[str, ...]:
    words = list(argv)
    words[words.index("-m") + 1] = path
    words[words.index("-c") + 1] = "2048"
    return tuple(words)
