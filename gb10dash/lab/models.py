"""Tiny but real GGUF models for the lab's model share.

Every valid model is a llama-architecture GGUF with a gpt2 BPE tokenizer (256 byte tokens
plus merges — llama.cpp refuses a gpt2 vocab without merges), bos/eos, a ChatML chat
template and small random weights. The share also holds a split 3-part model, a
safetensors directory (not GGUF) and a corrupt GGUF, like the real share does.
Generation is deterministic and cached: a stamp file records what was generated.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

STAMP = ".lab-share.json"
FORMAT_VERSION = 1

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
MERGES = ("Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "t h", "e r", "Ġt he", "Ġ s")
SPECIALS = ("<s>", "</s>", "<|im_start|>", "<|im_end|>")


@dataclass(frozen=True)
class ModelSpec:
    """One GGUF model of the share; ``rel`` is the (first) file's path in the share."""

    rel: str
    n_embd: int
    n_layer: int
    qtype: str = "F16"  # F32, F16, Q8_0, Q4_0, MXFP4 (2-D weights; norms stay F32)
    splits: int = 1
    n_ctx_train: int = 4096

    @property
    def files(self) -> list[str]:
        if self.splits == 1:
            return [self.rel]
        stem = self.rel.rsplit("-00001-of-", 1)[0]
        return [f"{stem}-{i:05d}-of-{self.splits:05d}.gguf" for i in range(1, self.splits + 1)]


SPLIT_MODEL = "gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4-00001-of-00003.gguf"
QWEN8B = "Qwen3-8B-GGUF/Qwen_Qwen3-8B-Q8_0.gguf"
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(SPLIT_MODEL, n_embd=512, n_layer=8, qtype="MXFP4", splits=3),
    ModelSpec(QWEN8B, n_embd=256, n_layer=4, qtype="Q8_0"),
    ModelSpec("Qwen3-14B-GGUF/Qwen3-14B-Q4_K_M.gguf", n_embd=128, n_layer=3, qtype="Q4_0"),
    ModelSpec("Qwen3-32B-GGUF/Qwen_Qwen3-32B-Q4_K_M.gguf", n_embd=256, n_layer=4, qtype="Q4_0"),
)
NOT_GGUF_DIR = "Qwen3-8B-safetensors"
CORRUPT = "broken-GGUF/corrupt.gguf"


def byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 byte tokens, in byte order."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def vocab() -> tuple[list[str], list[int]]:
    tokens = byte_tokens() + [m.replace(" ", "") for m in MERGES] + list(SPECIALS)
    types = [1] * (len(tokens) - len(SPECIALS)) + [3] * len(SPECIALS)  # NORMAL, CONTROL
    return tokens, types


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def _weights(spec: ModelSpec, n_vocab: int, zeros: bool = False):
    import numpy as np

    rng = np.random.default_rng(_seed(spec.rel))
    e, ff = spec.n_embd, spec.n_embd * 2

    def mat(rows: int, cols: int):
        if zeros:  # a big model written fast (load tests)
            return np.zeros((rows, cols), np.float32)
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32)

    yield "token_embd.weight", mat(n_vocab, e)
    for i in range(spec.n_layer):
        yield f"blk.{i}.attn_norm.weight", np.ones(e, np.float32)
        for part in ("q", "k", "v", "output"):
            yield f"blk.{i}.attn_{part}.weight", mat(e, e)
        yield f"blk.{i}.ffn_norm.weight", np.ones(e, np.float32)
        yield f"blk.{i}.ffn_gate.weight", mat(ff, e)
        yield f"blk.{i}.ffn_up.weight", mat(ff, e)
        yield f"blk.{i}.ffn_down.weight", mat(e, ff)
    yield "output_norm.weight", np.ones(e, np.float32)
    yield "output.weight", mat(n_vocab, e)


def _n_tensors(spec: ModelSpec) -> int:
    return 3 + 9 * spec.n_layer


def write_model(spec: ModelSpec, share: Path, *, zeros: bool = False) -> list[Path]:
    """Write one model (all its split parts) under ``share``; returns the files written.
    zeros=True: all-zero matrices, for a model large enough to load slowly (written in seconds)."""
    import gguf
    import numpy as np

    first = share / spec.rel
    first.parent.mkdir(parents=True, exist_ok=True)
    base = first if spec.splits == 1 else first.with_name(first.name.rsplit("-00001-of-", 1)[0] + ".gguf")
    per_split = -(-_n_tensors(spec) // spec.splits) if spec.splits > 1 else 0
    w = gguf.GGUFWriter(base, "llama", split_max_tensors=per_split)
    tokens, types = vocab()
    qtype = getattr(gguf.GGMLQuantizationType, spec.qtype)
    file_type = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "MXFP4": 38}[spec.qtype]
    n_head = max(2, spec.n_embd // 32)

    w.add_name(Path(spec.rel).parent.name.removesuffix("-GGUF") + " (gb10dash lab)")
    w.add_context_length(spec.n_ctx_train)
    w.add_embedding_length(spec.n_embd)
    w.add_block_count(spec.n_layer)
    w.add_feed_forward_length(spec.n_embd * 2)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(spec.n_embd // n_head)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_file_type(file_type)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(list(MERGES))
    w.add_bos_token_id(tokens.index("<s>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML_TEMPLATE)

    for name, arr in _weights(spec, len(tokens), zeros):
        if arr.ndim == 2 and spec.qtype == "F16":
            w.add_tensor(name, arr.astype(np.float16))
        elif arr.ndim == 2 and spec.qtype != "F32":
            w.add_tensor(name, gguf.quants.quantize(arr, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    written = [share / f for f in spec.files]
    missing = [p for p in written if not p.is_file()]
    if missing:
        raise RuntimeError(f"GGUF writer did not produce {missing}")
    return written


def write_extras(share: Path) -> None:
    """The non-GGUF directory and the corrupt GGUF."""
    st = share / NOT_GGUF_DIR
    st.mkdir(parents=True, exist_ok=True)
    (st / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["Qwen3ForCausalLM"],
                "model_type": "qwen3",
                "hidden_size": 4096,
                "num_hidden_layers": 36,
                "torch_dtype": "bfloat16",
            },
            indent=2,
        )
        + "\n"
    )
    header = json.dumps({"__metadata__": {"format": "pt"}}).encode()
    (st / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header)
    bad = share / CORRUPT
    bad.parent.mkdir(parents=True, exist_ok=True)
    # Valid magic and version, then a truncated key/value section.
    bad.write_bytes(
        b"GGUF"
        + (3).to_bytes(4, "little")
        + (5).to_bytes(8, "little")
        + (9).to_bytes(8, "little")
        + b"\x07\x00\x00\x00gen\xff\xfe"
    )


def share_fingerprint() -> str:
    blob = json.dumps(
        {
            "v": FORMAT_VERSION,
            "models": [asdict(m) for m in MODELS],
            "merges": MERGES,
            "specials": SPECIALS,
            "tpl": CHATML_TEMPLATE,
        }
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def share_is_current(share: Path) -> bool:
    try:
        stamp = json.loads((share / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("fingerprint") == share_fingerprint() and all(
        (share / f).is_file() for m in MODELS for f in m.files
    )


def ensure_share(share: Path, progress: Callable[[str], None] = lambda _m: None) -> bool:
    """Generate the share under ``share`` unless an identical one is there; True if generated."""
    if share_is_current(share):
        return False
    tmp = share.with_name(share.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for spec in MODELS:
        progress(f"generating {spec.rel}" + (f" ({spec.splits} parts)" if spec.splits > 1 else ""))
        write_model(spec, tmp)
    write_extras(tmp)
    (tmp / STAMP).write_text(json.dumps({"fingerprint": share_fingerprint()}) + "\n")
    shutil.rmtree(share, ignore_errors=True)
    tmp.rename(share)
    return True
