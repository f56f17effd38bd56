"""A small reader of GGUF headers (v2/v3): magic, version, counts, typed key/values, tensor infos.

Only the start of a file is needed: ``read_header`` reads the first KiBs over the transport and
reads more (up to a cap) while the key/value section goes on. Large arrays (the tokenizer's
150k tokens and merges) are stepped over without being materialised. No dependency on the
``gguf`` package: it is only installed with the lab extra; the unit tests check these tables
against it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from gb10dash.transport.base import Transport

MAGIC = b"GGUF"
FIRST_READ_BYTES = 256 * 1024
MAX_READ_BYTES = 8 * 1024 * 1024
_KEEP_STRING_CHARS = 512  # longer strings (chat templates) are skipped
_KEEP_ARRAY_ITEMS = 4096  # per-layer int arrays (head counts) are kept; the tokenizer is not

# GGUF value types (gguf.GGUFValueType): id -> struct format of one scalar.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9

# llama_ftype (gguf.LlamaFileType) -> the quant name llama.cpp shows.
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4",
    39: "NVFP4",
    40: "Q1_0",
}


class _Truncated(Exception):
    """The data ends before the header does; `needed` bytes would at least be required."""

    def __init__(self, needed: int):
        super().__init__(needed)
        self.needed = needed


@dataclass(frozen=True)
class GgufHeader:
    version: int
    tensor_count: int
    kv_count: int
    architecture: str | None = None  # general.architecture
    name: str | None = None  # general.name
    model_type: str | None = None  # general.type: model / adapter / mmproj (mostly absent)
    size_label: str | None = None  # general.size_label, e.g. "8B"
    file_type: int | None = None  # general.file_type (llama_ftype)
    context_length: int | None = None  # <arch>.context_length (trained)
    embedding_length: int | None = None
    block_count: int | None = None
    head_count: int | tuple[int, ...] | None = None  # per layer when the file has an array
    head_count_kv: int | tuple[int, ...] | None = None
    key_length: int | None = None
    value_length: int | None = None
    sliding_window: int | None = None
    split_no: int | None = None  # split.no (0-based) and split.count of split models
    split_count: int | None = None
    n_elements: int | None = None  # sum over this file's tensors; None when the infos were not read
    complete: bool = True  # False: the key/values went past the read cap (some may be missing)
    metadata: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @property
    def quant(self) -> str | None:
        """`Q8_0`, `MXFP4`, … from general.file_type."""
        ftype = self.file_type
        return None if ftype is None else FILE_TYPES.get(ftype & ~1024, f"ftype {ftype}")


def _typed(metadata: Mapping[str, object], key: str, kind: type) -> Any:
    value = metadata.get(key)
    if kind is int and isinstance(value, tuple) and value and all(type(v) is int for v in value):
        return value
    return value if type(value) is kind else None


def _header(
    version: int,
    tensor_count: int,
    kv_count: int,
    metadata: dict[str, object],
    n_elements: int | None = None,
    complete: bool = True,
) -> GgufHeader:
    arch = _typed(metadata, "general.architecture", str)

    def number(suffix: str) -> Any:
        return _typed(metadata, f"{arch}.{suffix}", int) if arch else None

    return GgufHeader(
        version,
        tensor_count,
        kv_count,
        arch,
        _typed(metadata, "general.name", str),
        _typed(metadata, "general.type", str),
        _typed(metadata, "general.size_label", str),
        _typed(metadata, "general.file_type", int),
        number("context_length"),
        number("embedding_length"),
        number("block_count"),
        number("attention.head_count"),
        number("attention.head_count_kv"),
        number("attention.key_length"),
        number("attention.value_length"),
        number("attention.sliding_window"),
        _typed(metadata, "split.no", int),
        _typed(metadata, "split.count", int),
        n_elements,
        complete,
        MappingProxyType(metadata),
    )


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise _Truncated(end)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def scalar(self, fmt: str) -> int | float | bool:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self) -> int:
        return int(self.scalar("<Q"))  # GGUF v2+: 64-bit counts and lengths

    def string(self, keep: bool = True) -> str | None:
        at, length = self.pos, self.count()
        if length > 1 << 30:
            raise ValueError(f"corrupt GGUF: a string of {length} bytes at offset {at}")
        if not keep or length > _KEEP_STRING_CHARS:
            self.skip(length)
            return None
        return self.take(length).decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise _Truncated(self.pos + n)
        self.pos += n

    def value(self, vtype: int, keep: bool) -> object:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string(keep)
        if vtype != _ARRAY:
            raise ValueError(f"corrupt GGUF: unknown value type {vtype} at offset {self.pos - 4}")
        item_type, n = int(self.scalar("<I")), self.count()
        if item_type in _SCALARS and n <= _KEEP_ARRAY_ITEMS and item_type not in (6, 12) and keep:
            return tuple(self.value(item_type, True) for _ in range(n))
        if item_type in _SCALARS:  # fixed-size items: one jump
            self.skip(n * struct.calcsize(_SCALARS[item_type]))
            return None
        start = self.pos
        for done in range(n):  # strings or nested arrays: walk them, keep nothing
            try:
                self.value(item_type, False)
            except _Truncated as short:  # guess the whole array's end from the items so far
                per_item = (self.pos - start) / done if done else 16
                raise _Truncated(max(short.needed, int(start + per_item * n))) from None
        return None


def _parse(data: bytes, *, lenient: bool = False) -> tuple[GgufHeader, bool]:
    """(header, tensor infos read). Raises _Truncated while the key/value section is incomplete,
    unless `lenient`: then the key/values read so far make a header with complete=False."""
    if data[:4] != MAGIC[: len(data[:4])] or not data:
        raise ValueError(f"not a GGUF file (magic {bytes(data[:4])!r})" if data else "empty file")
    reader = _Reader(data)
    reader.skip(4)
    version = int(reader.scalar("<I"))
    if version == 1:
        raise ValueError("GGUF v1 is not supported (llama.cpp dropped it too)")
    if version not in (2, 3):
        swapped = int.from_bytes(version.to_bytes(4, "little"), "big")
        hint = " (a big-endian GGUF)" if swapped in (2, 3) else ""
        raise ValueError(f"unsupported GGUF version {version}{hint}")
    tensor_count, kv_count = reader.count(), reader.count()
    if kv_count > 1_000_000 or tensor_count > 10_000_000:
        raise ValueError(f"corrupt GGUF: {kv_count} key/values, {tensor_count} tensors")
    metadata: dict[str, object] = {}
    try:
        for _ in range(kv_count):
            key = reader.string() or ""
            value = reader.value(int(reader.scalar("<I")), keep=True)
            if value is not None:
                metadata[key] = value
    except _Truncated:
        if not lenient or "general.architecture" not in metadata:
            raise
        return _header(version, tensor_count, kv_count, metadata, complete=False), False
    header = _header(version, tensor_count, kv_count, metadata)
    try:
        n_elements = 0
        for _ in range(tensor_count):
            reader.string(keep=False)
            n_dims = int(reader.scalar("<I"))
            if n_dims > 8:
                raise ValueError(f"corrupt GGUF: a tensor with {n_dims} dimensions")
            elements = 1
            for _ in range(n_dims):
                elements *= int(reader.scalar("<Q"))
            reader.skip(4 + 8)  # ggml type, data offset
            n_elements += elements
    except _Truncated:
        return header, False
    return replace(header, n_elements=n_elements), True


def parse_gguf_header(data: bytes) -> GgufHeader:
    """The header in `data` (the start of a GGUF file). ValueError names what is wrong."""
    try:
        return _parse(data)[0]
    except _Truncated:
        raise ValueError(
            f"truncated header (the file ends at byte {len(data)}, inside the key/value section)"
        ) from None
    except struct.error as exc:  # pragma: no cover - take() guards every unpack
        raise ValueError(f"corrupt GGUF: {exc}") from None


async def read_header(
    transport: Transport,
    path: str,
    *,
    timeout: float = 15.0,
    first_bytes: int = FIRST_READ_BYTES,
    max_bytes: int = MAX_READ_BYTES,
) -> GgufHeader:
    """Read and parse the header of a GGUF file on the host, reading more while it goes on.

    At the cap, a header whose key/values go on is returned with complete=False (when it has
    general.architecture). FileNotFoundError/PermissionError/TransportError pass through;
    a bad file is a ValueError.
    """
    want = min(first_bytes, max_bytes)
    while True:
        data = await transport.read_file(path, timeout=timeout, max_bytes=want)
        file_ended, at_cap = len(data) < want, want >= max_bytes
        try:
            header, tensors_read = _parse(data, lenient=at_cap and not file_ended)
        except _Truncated as short:
            if file_ended:
                raise ValueError(
                    f"truncated header (the file is {len(data)} bytes and ends inside the key/value section)"
                ) from None
            if at_cap:
                raise ValueError(f"no general.architecture in the first {max_bytes >> 20} MiB of key/values") from None
            want = min(max_bytes, max(want * 4, short.needed + short.needed // 4))
            continue
        if tensors_read or at_cap:
            return header
        if file_ended:
            raise ValueError(f"truncated header (the file is {len(data)} bytes and ends inside the tensor infos)")
        want = min(max_bytes, want * 4)
