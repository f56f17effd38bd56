"""Model swap, pure parts: listing, grouping, GGUF headers, fit check, ExecStart rewrite, drop-in, plan.

GGUF files are real ones written with the `gguf` package (or the lab's generator); the local
transport reads them with a real `find` and real file reads — no mocks.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import gguf
import pytest

from gb10dash.actions import gguf_header
from gb10dash.actions.fit import Verdict, fit_check, kv_cache_bytes
from gb10dash.actions.gguf_header import GgufHeader, parse_gguf_header, read_header
from gb10dash.actions.models import (
    Entry,
    ModelCandidate,
    apply_headers,
    group_models,
    list_models,
    listing_argv,
    parse_listing,
)
from gb10dash.actions.plan import StepKind
from gb10dash.actions.swap import (
    DROPIN_NAME,
    dropin_path,
    dropin_text,
    plan_swap,
    rewrite_exec_start,
)
from gb10dash.actions.swap_prepare import find_candidate
from gb10dash.actions.systemd_quote import expand_env_escapes, service_exec_start, split_exec_line
from gb10dash.collectors.memory import MemInfo
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import HostConfig
from gb10dash.lab.models import ModelSpec, write_extras, write_model
from gb10dash.lab.shims.unitfile import expand_env, load_unit
from gb10dash.transport.local import LocalTransport

GIB = 1024**3
HOSTILE = [
    'my model\'s "best".gguf',
    "$(touch pwned).gguf",
    "a; rm -rf x.gguf",
    "Modèle ünïcode 模型.gguf",
    "tab\there.gguf",
    "back\\slash `x` $HOME %h 100%.gguf",
]
SERVER = "/opt/llama.cpp/build/bin/llama-server"
BASE_ARGV = (
    SERVER,
    "-m",
    "/mnt/models/Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf",
    "-ngl",
    "999",
    "--no-mmap",
    "-fa",
    "on",
    "-c",
    "32768",
    "--host",
    "0.0.0.0",
    "--port",
    "8000",
)


def write_gguf(
    path: Path,
    *,
    arch: str = "llama",
    ctx: int = 40960,
    embd: int = 256,
    layers: int = 4,
    heads: int = 8,
    kv_heads: int | list[int] = 2,
    ftype: int = 7,
    n_tokens: int = 300,
    extra: dict | None = None,
) -> Path:
    """A small real GGUF (2 tensors) with a tokenizer array of n_tokens strings."""
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(path, arch)
    w.add_name("test model")
    w.add_context_length(ctx)
    w.add_embedding_length(embd)
    w.add_block_count(layers)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_file_type(ftype)
    w.add_token_list([f"tok{i}" for i in range(n_tokens)])
    for key, value in (extra or {}).items():
        getattr(w, f"add_{key}")(value)
    w.add_tensor("token_embd.weight", np.zeros((n_tokens, 8), np.float32))
    w.add_tensor("output_norm.weight", np.ones(8, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def raw_gguf(kvs: list[bytes], *, version: int = 3, tensors: int = 0) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, tensors, len(kvs)) + b"".join(kvs)


def gstr(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def kv_string(key: str, value: str) -> bytes:
    return gstr(key) + struct.pack("<I", 8) + gstr(value)


def kv_string_array(key: str, items: int) -> bytes:
    return gstr(key) + struct.pack("<IIQ", 9, 8, items) + b"".join(gstr(f"token-{i}") for i in range(items))


def unit(exec_start=BASE_ARGV, fragment="/etc/systemd/system/llama-server.service", dropins=()) -> UnitStatus:
    return UnitStatus("active", "running", 4242, None, 0, "success", 0, tuple(exec_start), fragment, tuple(dropins))


HOST = HostConfig(name="stella", api_url="http://stella:8000", model_path=BASE_ARGV[2], ctx=32768)


def candidate(path="/mnt/models/Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf", size=15 * GIB, header=None, **kw):
    return ModelCandidate(path, path.split("/models/")[-1], (path,), size, header=header, **kw)


# -- listing ------------------------------------------------------------------------------
def test_listing_is_an_argv_of_find_with_nul_terminated_records() -> None:
    argv = listing_argv("/mnt/models/")
    assert argv == ["find", "-L", "/mnt/models", "-mindepth", "1", "-maxdepth", "3", "-printf", "%Y\\t%s\\t%d\\t%p\\0"]
    with pytest.raises(ValueError, match="absolute"):
        listing_argv("models; rm -rf /")


def test_parse_listing_keeps_every_hostile_name_whole() -> None:
    names = [*HOSTILE, "new\nline.gguf"]
    text = "".join(f"f\t{i}\t2\t/share/dir/{name}\0" for i, name in enumerate(names)) + "d\t4096\t1\t/share/dir\0"
    entries = parse_listing(text)
    assert [e.path for e in entries] == [f"/share/dir/{n}" for n in names] + ["/share/dir"]
    assert entries[0] == Entry("f", 0, 2, "/share/dir/" + names[0])
    assert entries[3].rel == "dir/Modèle ünïcode 模型.gguf"
    assert parse_listing("") == [] and parse_listing("garbage\0") == []


async def test_real_find_and_local_reads_list_hostile_names(tmp_path: Path) -> None:
    share = tmp_path / "share"
    for name in HOSTILE:
        write_gguf(share / "hostile $(dir)" / name, n_tokens=20)
    transport = LocalTransport("local")
    found = await list_models(transport, str(share))
    assert sorted(c.path for c in found) == sorted(str(share / "hostile $(dir)" / n) for n in HOSTILE)
    assert all(c.enabled and c.header and c.header.architecture == "llama" for c in found), found
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


async def test_listing_a_missing_share_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot list .*No such file"):
        await list_models(LocalTransport("local"), str(tmp_path / "nope"))


# -- grouping -----------------------------------------------------------------------------
def entries_for(*specs: tuple[str, str, int]) -> list[Entry]:
    return [Entry(kind, size, rel.count("/") + 1, f"/mnt/models/{rel}") for kind, rel, size in specs]


def test_split_parts_are_one_model_with_total_size() -> None:
    stem = "gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4"
    listed = entries_for(
        ("d", "gpt-oss-120b-GGUF", 4096), *[("f", f"{stem}-0000{i}-of-00003.gguf", 20 * GIB + i) for i in (3, 1, 2)]
    )
    [model] = group_models(listed)
    assert model.enabled and model.reason is None
    assert model.path == f"/mnt/models/{stem}-00001-of-00003.gguf"
    assert model.parts == tuple(f"/mnt/models/{stem}-0000{i}-of-00003.gguf" for i in (1, 2, 3))
    assert model.total_bytes == 60 * GIB + 6
    assert model.display_name == "gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4 (3 parts)"
    assert model.file_name == "gpt-oss-120b-mxfp4-00001-of-00003.gguf"


def test_a_split_model_is_found_by_any_part_and_by_the_served_id() -> None:
    stem = "gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4"
    listed = entries_for(
        ("d", "gpt-oss-120b-GGUF", 4096),
        ("f", "Qwen3-8B-GGUF/q-00001-of-00002.gguf", 5),
        ("f", "Qwen3-8B-GGUF/q-00002-of-00002.gguf", 5),
        ("f", "solo.gguf", 9),
        *[("f", f"{stem}-0000{i}-of-00003.gguf", GIB) for i in (1, 2, 3)],
    )
    models = group_models(listed)
    split = next(m for m in models if m.display_name.startswith("gpt-oss"))
    for name in (
        f"{stem}-00001-of-00003.gguf",  # the host docs' -m, share-relative
        f"/mnt/models/{stem}-00002-of-00003.gguf",  # any part's path
        "gpt-oss-120b-mxfp4-00003-of-00003.gguf",  # any part's file name
        "gpt-oss-120b-mxfp4-00001-of-00003.gguf",  # the id llama-server reports
        stem,
        f"{stem} (3 parts)",
        f" {stem} ",
    ):
        assert find_candidate(models, name) is split, name
    assert find_candidate(models, "solo.gguf").path == "/mnt/models/solo.gguf"
    with pytest.raises(ValueError, match=r"no model 'gpt-oss-120b-mxfp4-00004-of-00003.gguf' on the share"):
        find_candidate(models, "gpt-oss-120b-mxfp4-00004-of-00003.gguf")
    with pytest.raises(ValueError, match="no model 'gpt-oss-120b-mxfp4' on the share"):
        find_candidate(models, "gpt-oss-120b-mxfp4")  # a bare stem is not a name of it


def test_a_split_with_a_missing_part_is_disabled_with_the_reason() -> None:
    stem = "big-GGUF/big-Q4_K_M"
    [model] = group_models(
        entries_for(("f", f"{stem}-00001-of-00003.gguf", 10), ("f", f"{stem}-00003-of-00003.gguf", 10))
    )
    assert not model.enabled
    assert model.reason == "split model incomplete: part 2 of 3 missing"
    assert model.path.endswith("big-Q4_K_M-00001-of-00003.gguf") and model.total_bytes == 20


def test_non_gguf_directories_are_shown_disabled_and_loose_files_are_ignored() -> None:
    listed = entries_for(
        ("d", "Qwen3-8B-safetensors", 4096),
        ("f", "Qwen3-8B-safetensors/config.json", 156),
        ("f", "Qwen3-8B-safetensors/model.safetensors", 42),
        ("f", "README.md", 10),
        ("d", "Qwen3-8B-GGUF", 4096),
        ("f", "Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf", 8 * GIB),
        ("f", "Qwen3-8B-GGUF/notes.txt", 5),
    )
    models = group_models(listed)
    assert [(m.display_name, m.enabled) for m in models] == [
        ("Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf", True),
        ("Qwen3-8B-safetensors/", False),
    ]
    assert models[1].reason == "not GGUF (no .gguf file: config.json, model.safetensors)"
    assert models[1].parts == ()


def test_odd_files_are_disabled_and_nas_bookkeeping_is_skipped() -> None:
    listed = entries_for(
        ("f", "vl/mmproj-F16.gguf", 100),
        ("f", "vl/model.gguf", 100),
        ("f", "empty/e.gguf", 0),
        ("N", "links/gone.gguf", 0),
        ("f", ".hidden/x.gguf", 5),
        ("f", "m/@eaDir/x.gguf", 5),
        ("f", "#recycle/old.gguf", 5),
        ("f", "upper/MODEL.GGUF", 7),
    )
    reasons = {m.display_name: m.reason for m in group_models(listed)}
    assert reasons == {
        "vl/mmproj-F16.gguf": "multimodal projector (mmproj), not a model",
        "vl/model.gguf": None,
        "empty/e.gguf": "empty file",
        "links/gone.gguf": "broken symlink",
        "upper/MODEL.GGUF": None,
    }


def test_headers_decide_corrupt_and_split_consistency() -> None:
    single = candidate()
    corrupt = apply_headers(single, [ValueError("truncated header (the file is 33 bytes …)")])
    assert not corrupt.enabled and corrupt.reason.startswith("truncated header")
    good = GgufHeader(3, 2, 5, architecture="llama", file_type=7, n_elements=10)
    assert apply_headers(single, [good]) == ModelCandidate(
        single.path, single.display_name, single.parts, single.total_bytes, header=good, parameter_count=10
    )
    split = ModelCandidate(
        "/m/a-00001-of-00002.gguf", "a (2 parts)", ("/m/a-00001-of-00002.gguf", "/m/a-00002-of-00002.gguf"), 2
    )
    first = GgufHeader(3, 2, 9, architecture="llama", split_no=0, split_count=2, n_elements=7)
    second = GgufHeader(3, 2, 3, split_no=1, split_count=2, n_elements=5)
    ok = apply_headers(split, [first, second])
    assert ok.enabled and ok.parameter_count == 12 and ok.header is first
    uncounted = apply_headers(split, [first, GgufHeader(3, 2, 3, split_no=1, split_count=2)])
    assert uncounted.enabled and uncounted.parameter_count is None  # one part without a count: no sum
    wrong = apply_headers(split, [first, GgufHeader(3, 2, 3, split_no=0, split_count=2)])
    assert not wrong.enabled and wrong.reason == "part 2: its header says split 0 of 2, expected 1 of 2"
    missing = apply_headers(split, [first, FileNotFoundError("x")])
    assert missing.reason == "part 2: file vanished while listing"
    projector = apply_headers(single, [GgufHeader(3, 1, 1, architecture="clip")])
    assert not projector.enabled and "not a model to serve" in projector.reason


async def test_lab_share_groups_and_reads_right(tmp_path: Path) -> None:
    """The lab's own generator: a 3-part MXFP4 split, a Q8_0 single, safetensors, the corrupt GGUF."""
    share = tmp_path / "models"
    write_model(ModelSpec("tiny-GGUF/tiny-mxfp4-00001-of-00003.gguf", 64, 2, "MXFP4", splits=3), share)
    write_model(ModelSpec("one-GGUF/one-Q8_0.gguf", 64, 2, "Q8_0", n_ctx_train=8192), share)
    write_extras(share)
    models = {m.display_name: m for m in await list_models(LocalTransport("local"), str(share))}
    assert set(models) == {
        "tiny-GGUF/tiny-mxfp4 (3 parts)",
        "one-GGUF/one-Q8_0.gguf",
        "broken-GGUF/corrupt.gguf",
        "Qwen3-8B-safetensors/",
    }
    split = models["tiny-GGUF/tiny-mxfp4 (3 parts)"]
    assert split.enabled and split.header.quant == "MXFP4" and split.header.split_count == 3
    assert split.total_bytes == sum(os.path.getsize(p) for p in split.parts)
    n_vocab = 256 + 10 + 4
    assert split.parameter_count == 2 * n_vocab * 64 + 64 + 2 * (2 * 64 + 4 * 64 * 64 + 3 * 64 * 128)
    one = models["one-GGUF/one-Q8_0.gguf"]
    assert (one.header.quant, one.header.context_length, one.header.block_count) == ("Q8_0", 8192, 2)
    assert "Q8_0" in one.describe() and "ctx 8192" in one.describe()
    corrupt = models["broken-GGUF/corrupt.gguf"]
    assert not corrupt.enabled and corrupt.reason.startswith("corrupt GGUF")
    assert not models["Qwen3-8B-safetensors/"].enabled


# -- GGUF header --------------------------------------------------------------------------
def test_header_fields_from_a_real_gguf(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "m.gguf",
        ftype=38,
        extra={"key_length": 64, "value_length": 64, "sliding_window": 128, "size_label": "120B"},
    )
    h = parse_gguf_header(path.read_bytes())
    assert (h.version, h.architecture, h.name, h.quant, h.size_label) == (3, "llama", "test model", "MXFP4", "120B")
    assert (h.context_length, h.embedding_length, h.block_count, h.head_count, h.head_count_kv) == (40960, 256, 4, 8, 2)
    assert (h.key_length, h.value_length, h.sliding_window, h.split_count) == (64, 64, 128, None)
    assert h.tensor_count == 2 and h.n_elements == 300 * 8 + 8 and h.complete
    assert "tokenizer.ggml.tokens" not in h.metadata  # stepped over, not materialised


def test_per_layer_head_counts_are_kept(tmp_path: Path) -> None:
    h = parse_gguf_header(write_gguf(tmp_path / "m.gguf", kv_heads=[2, 0, 2, 4]).read_bytes())
    assert h.head_count_kv == (2, 0, 2, 4)


def test_our_type_tables_match_the_gguf_package() -> None:
    assert set(gguf_header._SCALARS) | {8, 9} == {t.value for t in gguf.GGUFValueType}
    for ftype in gguf.LlamaFileType:
        if ftype.value != 1024:
            expected = ftype.name.removeprefix("MOSTLY_").removeprefix("ALL_").removesuffix("_MOE")
            assert gguf_header.FILE_TYPES[ftype.value] == expected, ftype


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"PK\x03\x04rest", r"not a GGUF file \(magic b'PK\\x03\\x04'\)"),
        (b'"\x00\x00\x00\x00\x00\x00\x00{"__metadata__"', "not a GGUF file"),
        (b"GGUF" + struct.pack("<I", 1) + bytes(16), "GGUF v1 is not supported"),
        (b"GGUF" + struct.pack(">I", 3) + bytes(16), "big-endian"),
        (b"GG", "truncated header"),
        (raw_gguf([kv_string("general.architecture", "llama")])[:-3], "truncated header"),
        (raw_gguf([gstr("k") + struct.pack("<I", 99)]), "unknown value type 99"),
    ],
)
def test_bad_bytes_say_what_is_wrong(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_gguf_header(data)


def test_every_prefix_and_random_damage_give_a_value_error_or_a_header(tmp_path: Path) -> None:
    data = write_gguf(tmp_path / "m.gguf", n_tokens=40).read_bytes()
    outcomes = set()
    for cut in range(0, 2048, 3):
        try:
            outcomes.add("header" if parse_gguf_header(data[:cut]).architecture else "partial")
        except ValueError as exc:
            outcomes.add("truncated" if "truncated" in str(exc) or str(exc) == "empty file" else str(exc))
    assert outcomes == {"truncated", "header"}
    rng = random.Random(5)
    for _ in range(300):
        damaged = bytearray(data[:2048])
        for _ in range(4):
            damaged[rng.randrange(4, len(damaged))] = rng.randrange(256)
        try:
            parse_gguf_header(bytes(damaged))
        except ValueError:
            pass


async def test_read_header_grows_its_read_and_caps_it(tmp_path: Path) -> None:
    transport = LocalTransport("local")
    big = write_gguf(tmp_path / "big.gguf", n_tokens=60_000)  # ~1 MB of tokenizer strings
    header = await read_header(transport, str(big), first_bytes=4096)
    assert header.complete and header.n_elements == 60_000 * 8 + 8 and header.quant == "Q8_0"
    capped = await read_header(transport, str(big), first_bytes=4096, max_bytes=64 * 1024)
    assert not capped.complete and capped.architecture == "llama" and capped.block_count == 4
    late = tmp_path / "late.gguf"
    late.write_bytes(
        raw_gguf([kv_string_array("tokenizer.ggml.tokens", 20_000), kv_string("general.architecture", "x")])
    )
    with pytest.raises(ValueError, match="no general.architecture in the first 0 MiB"):
        await read_header(transport, str(late), first_bytes=1024, max_bytes=16 * 1024)
    assert (await read_header(transport, str(late), first_bytes=1024)).architecture == "x"
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(big.read_bytes()[:100_000])
    with pytest.raises(ValueError, match="truncated header .*100000 bytes"):
        await read_header(transport, str(cut), first_bytes=4096)
    with pytest.raises(FileNotFoundError):
        await read_header(transport, str(tmp_path / "absent.gguf"))


# -- fit check ----------------------------------------------------------------------------
GB10 = MemInfo(
    total_kib=128 * 1024 * 1024,
    available_kib=100 * 1024 * 1024,
    free_kib=None,
    cached_kib=None,
    buffers_kib=None,
    swap_total_kib=0,
    swap_free_kib=0,
)
GPT_OSS = GgufHeader(
    3,
    459,
    40,
    architecture="gpt-oss",
    context_length=131072,
    embedding_length=2880,
    block_count=36,
    head_count=64,
    head_count_kv=8,
    key_length=64,
    value_length=64,
)


def test_kv_estimate_follows_layers_heads_and_ctx() -> None:
    assert kv_cache_bytes(GPT_OSS, 131072) == 131072 * 36 * 8 * (64 + 64) * 2 == 9 * GIB
    dense = GgufHeader(
        3, 1, 1, architecture="qwen3", embedding_length=4096, block_count=36, head_count=32, head_count_kv=8
    )
    assert kv_cache_bytes(dense, 32768) == 32768 * 36 * 8 * 256 * 2
    per_layer = GgufHeader(
        3, 1, 1, architecture="x", embedding_length=64, block_count=3, head_count=4, head_count_kv=(2, 0, 1)
    )
    assert kv_cache_bytes(per_layer, 10) == 10 * (2 + 1) * 32 * 2
    assert kv_cache_bytes(GgufHeader(3, 1, 1, architecture="mamba", block_count=4), 10) is None


def test_fit_verdicts_with_numbers() -> None:
    ok = fit_check(candidate(size=59 * GIB, header=GPT_OSS), 131072, GB10)
    assert ok.verdict is Verdict.OK and ok.kv_bytes == 9 * GIB and ok.budget_bytes == 120 * GIB
    assert ok.need_bytes == 68 * GIB and ok.warning is None
    assert ok.message.startswith(
        "fits: needs 68.0 GiB, 52.0 GiB spare (model 59.0 GiB + KV cache 9.0 GiB at ctx 131072"
    )
    assert "MemTotal 128.0 GiB − 8 GiB reserve; the served model's memory is freed by the swap" in ok.message
    close = fit_check(candidate(size=101 * GIB, header=GPT_OSS), 131072, GB10)
    assert close.verdict is Verdict.CLOSE and close.message.startswith("close: needs 110.0 GiB, only 10.0 GiB spare")
    assert close.warning == close.message
    big = fit_check(candidate(size=59 * GIB, header=GPT_OSS), 131072, GB10, reserve_gib=64)
    assert big.verdict is Verdict.TOO_BIG and big.message.startswith("too big: needs 68.0 GiB, 4.0 GiB over")


def test_fit_says_what_it_does_not_know() -> None:
    unknown_kv = fit_check(candidate(size=8 * GIB, header=None), 32768, GB10)
    assert unknown_kv.verdict is Verdict.OK and unknown_kv.kv_bytes is None
    assert "KV estimate unknown (no GGUF header)" in unknown_kv.message and unknown_kv.warning
    no_total = MemInfo(None, None, None, None, None, None, None)
    assert fit_check(candidate(header=GPT_OSS), 4096, no_total).verdict is Verdict.UNKNOWN
    trained = fit_check(candidate(size=GIB, header=GPT_OSS), None, GB10)
    assert trained.ctx == 131072 and trained.kv_bytes == 9 * GIB
    swa = GgufHeader(
        3,
        1,
        1,
        architecture="gpt-oss",
        block_count=2,
        head_count=2,
        embedding_length=8,
        context_length=100,
        sliding_window=128,
    )
    above = fit_check(candidate(size=GIB, header=swa), 200, GB10)
    assert "sliding-window layers keep 128 tokens" in above.message
    assert above.message.endswith("; ctx 200 is above the trained context 100")


# -- ExecStart rewrite --------------------------------------------------------------------
NEW = "/mnt/models/Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (("-m", "old.gguf"), ("-m", NEW)),
        (("--model", "old.gguf"), ("--model", NEW)),
        (("--model=old.gguf",), (f"--model={NEW}",)),
    ],
)
def test_only_the_model_value_changes(before: tuple, after: tuple) -> None:
    argv = (SERVER, "-ngl", "999", *before, "--no-mmap", "--load-mode", "none", "-c", "4096", "--jinja")
    assert rewrite_exec_start(argv, NEW, None) == (
        SERVER,
        "-ngl",
        "999",
        *after,
        "--no-mmap",
        "--load-mode",
        "none",
        "-c",
        "4096",
        "--jinja",
    )


def test_ctx_is_replaced_in_every_form_or_added() -> None:
    assert rewrite_exec_start(BASE_ARGV, NEW, 65536)[8:10] == ("-c", "65536")
    assert rewrite_exec_start((SERVER, "-m", "a", "--ctx-size", "8"), NEW, 16)[-2:] == ("--ctx-size", "16")
    assert rewrite_exec_start((SERVER, "-m", "a", "--ctx-size=8"), NEW, 16)[-1] == "--ctx-size=16"
    assert rewrite_exec_start((SERVER, "-m", "a", "-ngl", "99"), NEW, 4096) == (
        SERVER,
        "-m",
        NEW,
        "-ngl",
        "99",
        "-c",
        "4096",
    )
    assert rewrite_exec_start((SERVER, "-m", "a"), NEW, None) == (SERVER, "-m", NEW)


def test_rewrite_refuses_what_it_cannot_do() -> None:
    with pytest.raises(
        ValueError, match=r"router mode or no -m: swap through /models/load \(the unit uses --models-dir\)"
    ):
        rewrite_exec_start((SERVER, "--models-dir", "/mnt/models", "--port", "8000"), NEW, None)
    with pytest.raises(ValueError, match="router mode or no -m"):
        rewrite_exec_start((SERVER, "--port", "8000"), NEW, None)
    with pytest.raises(ValueError, match="-m has no value"):
        rewrite_exec_start((SERVER, "-m"), NEW, None)
    with pytest.raises(ValueError, match="absolute"):
        rewrite_exec_start(BASE_ARGV, "models/x.gguf", None)
    with pytest.raises(ValueError, match="ctx"):
        rewrite_exec_start(BASE_ARGV, NEW, -1)


# -- drop-in text and systemd quoting -----------------------------------------------------
def test_dropin_text_resets_then_sets_execstart() -> None:
    argv = rewrite_exec_start(BASE_ARGV, NEW, None)
    assert dropin_text(argv) == (
        f"[Service]\nExecStart=\nExecStart={SERVER} -m {NEW} -ngl 999 --no-mmap -fa on "
        "-c 32768 --host 0.0.0.0 --port 8000\n"
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_paths_round_trip_through_systemd_quoting(name: str) -> None:
    path = f"/mnt/models/dir $(x); 'q'/{name}"
    argv = rewrite_exec_start(BASE_ARGV, path, 8192)
    text = dropin_text(argv)
    assert text.count("\n") == 3  # nothing broke out of the ExecStart= line
    parsed = service_exec_start(["[Service]\nExecStart=/bin/old -m x\n", text])
    assert parsed == argv
    assert tuple(expand_env_escapes(w) for w in parsed) == (
        *BASE_ARGV[:2],
        path,
        *BASE_ARGV[3:9],
        "8192",
        *BASE_ARGV[10:],
    )


@pytest.mark.parametrize("name", HOSTILE)
def test_the_lab_systemctl_reads_the_dropin_back_exactly(tmp_path: Path, name: str) -> None:
    argv = rewrite_exec_start(BASE_ARGV, f"/mnt/models/sub dir/{name}", None)
    assert load_unit_argv(tmp_path, argv) == list(argv)  # the stored form, `$$` kept as systemd keeps it


def test_the_lab_systemctl_unescapes_dollar_and_percent(tmp_path: Path) -> None:
    argv = rewrite_exec_start(BASE_ARGV, "/mnt/models/$(x) 100%.gguf", None)
    started = expand_env(load_unit_argv(tmp_path, argv), {})
    assert started[2] == "/mnt/models/$(x) 100%.gguf"  # what the process receives


def load_unit_argv(root: Path, argv: tuple[str, ...]) -> list[str]:
    unit_dir = root / "etc" / "systemd" / "system"
    (unit_dir / "llama-server.service.d").mkdir(parents=True)
    (unit_dir / "llama-server.service").write_text("[Service]\nExecStart=/bin/false -m /x.gguf\n")
    (unit_dir / "llama-server.service.d" / DROPIN_NAME).write_text(dropin_text(argv))
    cfg = load_unit("llama-server.service", root)
    assert cfg["load_state"] == "loaded", cfg["load_error"]
    return cfg["exec_start"][0]["argv"]


def test_control_characters_are_refused() -> None:
    for bad in ("new\nline.gguf", "cr\r.gguf", "bell\a.gguf"):
        with pytest.raises(ValueError, match="control character"):
            dropin_text(rewrite_exec_start(BASE_ARGV, f"/mnt/models/{bad}", None))


def test_stored_words_keep_their_meaning() -> None:
    """`$VAR` of the unit stays a reference, a resolved `%` is doubled, a prefix-like argv[0] is quoted."""
    argv = ("-weird/llama-server", "$LLAMA_ARGS", "--alias", "100%", "-m", "x")
    line = dropin_text(rewrite_exec_start(argv, "/m/$y.gguf", None)).splitlines()[2]
    assert line == 'ExecStart="-weird/llama-server" "$LLAMA_ARGS" --alias "100%%" -m "/m/$$y.gguf"'
    assert split_exec_line(line.removeprefix("ExecStart=")) == (
        "-weird/llama-server",
        "$LLAMA_ARGS",
        "--alias",
        "100%",
        "-m",
        "/m/$$y.gguf",
    )


def test_unit_files_merge_like_systemd() -> None:
    fragment = "[Unit]\nDescription=x\n[Service]\nExecStart=/bin/a \\\n  -m /one.gguf\n"
    assert service_exec_start([fragment]) == ("/bin/a", "-m", "/one.gguf")
    assert service_exec_start([fragment, "[Service]\nExecStart=\nExecStart=-/bin/b 'x y'\n"]) == ("/bin/b", "x y")
    with pytest.raises(ValueError, match="2 ExecStart= lines"):
        service_exec_start([fragment, "[Service]\nExecStart=/bin/b\n"])
    with pytest.raises(ValueError, match="specifier %h"):
        split_exec_line("/bin/a %h/x")
    assert split_exec_line(r'/bin/a "\x41\u00e9\101" b\ c') == ("/bin/a", "Aé\x41", "b c")


# -- plan ---------------------------------------------------------------------------------
def test_plan_writes_the_dropin_then_reloads_restarts_waits_and_checks() -> None:
    q14 = candidate(header=GPT_OSS)
    fit = fit_check(q14, 32768, GB10, reserve_gib=120)
    plan = plan_swap(HOST, unit(), q14, ctx=None, previous_dropin=None, timeout_s=240, fit=fit)
    path = "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"
    assert [s.command_line() for s in plan.steps] == [
        "sudo -n mkdir -p /etc/systemd/system/llama-server.service.d",
        f"sudo -n tee {path}",
        "sudo -n systemctl daemon-reload",
        "sudo -n systemctl restart llama-server.service",
        "wait for /health ok (up to 240 s)",
        "check /v1/models serves Qwen3-14B-Q4_K_M.gguf",
    ]
    write = plan.steps[1]
    assert write.stdin == dropin_text(rewrite_exec_start(BASE_ARGV, q14.path, None))
    assert [u.command_line() for u in write.undo] == [
        f"sudo -n rm -f {path}",
        "sudo -n systemctl daemon-reload",
        "sudo -n systemctl reset-failed llama-server.service",
        "sudo -n systemctl restart llama-server.service",
        "wait for /health ok (up to 240 s)",
    ]
    assert plan.steps[5].kind is StepKind.EXPECT_MODEL and plan.steps[5].expect == "Qwen3-14B-Q4_K_M.gguf"
    assert all(not s.undo for s in plan.steps if s is not write)
    assert plan.notes == (fit.warning,) and fit.verdict is Verdict.TOO_BIG
    assert plan.action == "swap" and plan.host == "stella" and "Qwen3-14B" in plan.summary


def test_plan_restores_the_previous_dropin_exactly_and_follows_the_fragment() -> None:
    previous = "# hand-made\n[Service]\nExecStart=\nExecStart=/x -m 'é y'\r\n\n"
    lab_unit = unit(
        fragment="/lab/hosts/a b/etc/systemd/system/llama-server.service",
        dropins=["/lab/hosts/a b/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"],
    )
    plan = plan_swap(HOST, lab_unit, candidate(), ctx=65536, previous_dropin=previous, timeout_s=60)
    assert plan.steps[0].argv == (
        "sudo",
        "-n",
        "tee",
        "/lab/hosts/a b/etc/systemd/system/llama-server.service.d/gb10dash-model.conf",
    )  # the directory exists: no mkdir
    restore = plan.steps[0].undo[0]
    assert restore.argv == plan.steps[0].argv and restore.stdin == previous
    assert "-c 65536" in plan.steps[0].stdin and "-c 32768" not in plan.steps[0].stdin
    assert dropin_path(unit(fragment="/usr/lib/systemd/system/llama-server.service")) == (
        "/etc/systemd/system/llama-server.service.d/gb10dash-model.conf"
    )


def test_plan_notes_and_refusals() -> None:
    corrupt = candidate(path="/mnt/models/broken-GGUF/corrupt.gguf", enabled=False, reason="truncated header")
    with pytest.raises(ValueError, match="cannot be swapped in: truncated header"):
        plan_swap(HOST, unit(), corrupt, ctx=None, previous_dropin=None, timeout_s=60)
    forced = plan_swap(HOST, unit(), corrupt, ctx=None, previous_dropin=None, timeout_s=60, allow_disabled=True)
    assert forced.notes[0].startswith("this model is not offered: truncated header")
    noisy = unit(
        exec_start=(*BASE_ARGV, "--alias", "qwen"), dropins=["/etc/systemd/system/llama-server.service.d/override.conf"]
    )
    notes = plan_swap(HOST, noisy, candidate(), ctx=None, previous_dropin=None, timeout_s=60).notes
    assert any("override.conf sort(s) after gb10dash-model.conf" in n for n in notes)
    assert any("--alias" in n for n in notes)
    same = candidate(path=BASE_ARGV[2])
    assert "only restarts it" in plan_swap(HOST, unit(), same, ctx=None, previous_dropin=None, timeout_s=9).notes[0]
    with pytest.raises(ValueError, match="router mode"):
        plan_swap(
            HOST,
            unit(exec_start=(SERVER, "--models-dir", "/m")),
            candidate(),
            ctx=None,
            previous_dropin=None,
            timeout_s=60,
        )
    with pytest.raises(ValueError, match="FragmentPath"):
        plan_swap(HOST, unit(fragment=None), candidate(), ctx=None, previous_dropin=None, timeout_s=60)
    with pytest.raises(ValueError, match="no ExecStart"):
        plan_swap(HOST, unit(exec_start=()), candidate(), ctx=None, previous_dropin=None, timeout_s=60)
    described = "\n".join(plan_swap(HOST, unit(), candidate(), ctx=None, previous_dropin=None, timeout_s=60).describe())
    assert "sudo -n tee /etc/systemd/system/llama-server.service.d/gb10dash-model.conf" in described


def test_find_is_gnu_find() -> None:
    """The listing relies on GNU find's -printf (GB10 hosts run Ubuntu)."""
    assert shutil.which("find")
    out = subprocess.run(["find", "--version"], capture_output=True, text=True, timeout=10).stdout
    assert "GNU findutils" in out
