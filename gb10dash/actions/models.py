"""The model share's GGUF models: a remote listing (argv, NUL-separated), grouped into candidates.

Split models (`NAME-00001-of-00003.gguf`) are one candidate with all their parts; directories
without any GGUF and files that fail the header check are shown disabled, with the reason.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gb10dash import format as fmt
from gb10dash.actions.gguf_header import GgufHeader, read_header
from gb10dash.collectors.gguf_names import SPLIT_RE
from gb10dash.transport.base import CommandTimeout, Transport

MAX_DEPTH = 3
_SKIPPED_DIRS = {"@eaDir", "#recycle", "#snapshot", "lost+found"}  # NAS bookkeeping


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str  # find's %Y: f file, d directory, l symlink loop, N broken symlink, …
    size: int
    depth: int  # 1 = directly in the share
    path: str

    @property
    def rel(self) -> str:
        """The path below the share (its last `depth` components)."""
        return "/".join(self.path.split("/")[-self.depth :]) if self.depth > 0 else ""


@dataclass(frozen=True, slots=True)
class ModelCandidate:
    path: str  # the file to pass to -m (the first part of a split model)
    display_name: str
    parts: tuple[str, ...]
    total_bytes: int
    enabled: bool = True
    reason: str | None = None  # why it cannot be picked (when not enabled)
    header: GgufHeader | None = None  # of the first part
    parameter_count: int | None = None  # tensor elements summed over every part

    @property
    def file_name(self) -> str:
        """What llama-server reports as the model id once it serves this file."""
        return posixpath.basename(self.path)

    @property
    def names(self) -> frozenset[str]:
        """Every name an operator may call it by: the display name (and a split model's without its
        part count), and for each part its path, share-relative path and file name — the host docs'
        `-m …-00001-of-00003.gguf` and the id llama-server reports name the whole split model."""
        shown = self.display_name.rsplit(" (", 1)[0] if len(self.parts) > 1 else self.display_name
        rel_dir = posixpath.dirname(shown)
        found = {self.path, self.display_name, shown, self.file_name}
        for part in self.parts:
            name = posixpath.basename(part)
            found |= {part, name, posixpath.join(rel_dir, name)}
        return frozenset(found)

    def describe(self) -> str:
        """`59.0 GiB · gpt-oss · MXFP4 · 116.8B params · ctx 131072` (what is known)."""
        bits = [fmt.bytes_count(self.total_bytes)]
        h = self.header
        if h is not None:
            bits += [h.architecture or "?", h.quant or "quant ?"]
            if self.parameter_count:
                bits.append(
                    f"{self.parameter_count / 1e9:.1f}B params"
                    if self.parameter_count >= 1e8
                    else f"{self.parameter_count / 1e6:.1f}M params"
                )
            elif h.size_label:
                bits.append(h.size_label)
            if h.context_length:
                bits.append(f"ctx {h.context_length}")
        if len(self.parts) > 1:
            bits.append(f"{len(self.parts)} parts")
        if not self.enabled:
            bits.append(f"not offered: {self.reason}")
        return " · ".join(bits)


def listing_argv(share: str) -> list[str]:
    """`find -L SHARE` with one NUL-terminated `type\\tsize\\tdepth\\tpath` record per entry."""
    if not share.startswith("/"):
        raise ValueError(f"the model share must be an absolute path, not {share!r}")
    root = share.rstrip("/") or "/"
    return ["find", "-L", root, "-mindepth", "1", "-maxdepth", str(MAX_DEPTH), "-printf", r"%Y\t%s\t%d\t%p\0"]


def parse_listing(text: str) -> list[Entry]:
    """NUL-separated find records → entries (any byte but NUL survives in a name, newlines too)."""
    entries = []
    for record in text.split("\0"):
        fields = record.split("\t", 3)
        if len(fields) != 4 or not fields[1].isdigit() or not fields[2].isdigit():
            continue  # the empty tail after the last NUL, or noise
        entries.append(Entry(fields[0], int(fields[1]), int(fields[2]), fields[3]))
    return entries


def _skipped(entry: Entry) -> bool:
    return any(part.startswith(".") or part in _SKIPPED_DIRS for part in entry.rel.split("/"))


def _single(entry: Entry) -> ModelCandidate:
    reason = None
    if entry.kind == "N":
        reason = "broken symlink"
    elif entry.size == 0:
        reason = "empty file"
    elif posixpath.basename(entry.path).lower().startswith("mmproj"):
        reason = "multimodal projector (mmproj), not a model"
    return ModelCandidate(entry.path, entry.rel, (entry.path,), entry.size, reason is None, reason)


def _split(key: tuple[str, str, int], found: dict[int, Entry]) -> ModelCandidate:
    directory, stem, count = key
    any_entry = next(iter(found.values()))
    names = [f"{stem}-{no:05d}-of-{count:05d}.gguf" for no in range(1, count + 1)]
    parts = tuple(posixpath.join(directory, name) for name in names)
    rel_dir = posixpath.dirname(any_entry.rel)
    display = posixpath.join(rel_dir, stem) + f" ({count} parts)"
    missing = [no for no in range(1, count + 1) if no not in found]
    reason = None
    if missing:
        reason = f"split model incomplete: part {', '.join(map(str, missing))} of {count} missing"
    elif any(e.kind == "N" or e.size == 0 for e in found.values()):
        reason = "split model has an empty part or a broken symlink"
    return ModelCandidate(parts[0], display, parts, sum(e.size for e in found.values()), reason is None, reason)


def group_models(entries: Sequence[Entry]) -> list[ModelCandidate]:
    """GGUF files and split models as candidates; top-level directories without GGUF, disabled."""
    entries = [e for e in entries if not _skipped(e)]
    ggufs = [e for e in entries if e.kind in ("f", "N") and e.path.lower().endswith(".gguf")]
    splits: dict[tuple[str, str, int], dict[int, Entry]] = {}
    candidates = []
    for entry in ggufs:
        match = SPLIT_RE.match(posixpath.basename(entry.path))
        if match and int(match["count"]) > 1 and 1 <= int(match["no"]) <= int(match["count"]):
            key = (posixpath.dirname(entry.path), match["stem"], int(match["count"]))
            splits.setdefault(key, {})[int(match["no"])] = entry
        else:
            candidates.append(_single(entry))
    candidates += [_split(key, found) for key, found in splits.items()]
    with_gguf = {e.rel.split("/")[0] for e in ggufs}
    for entry in entries:
        if entry.kind == "d" and entry.depth == 1 and entry.rel not in with_gguf:
            inside = sorted(
                posixpath.basename(e.path) for e in entries if e.kind == "f" and e.rel.startswith(entry.rel + "/")
            )
            shown = ", ".join(inside[:3]) + (", …" if len(inside) > 3 else "")
            candidates.append(
                ModelCandidate(
                    entry.path,
                    entry.rel + "/",
                    (),
                    0,
                    False,
                    f"not GGUF (no .gguf file{': ' + shown if shown else ''})",
                )
            )
    for index, candidate in enumerate(candidates):
        if candidate.enabled and "\ufffd" in candidate.path:
            candidates[index] = replace(candidate, enabled=False, reason="file name is not valid UTF-8")
    return sorted(candidates, key=lambda c: (not c.parts, c.display_name.casefold()))


def apply_headers(candidate: ModelCandidate, headers: Sequence[GgufHeader | Exception]) -> ModelCandidate:
    """The candidate with its parts' headers (or the errors reading them) checked and attached."""
    first = headers[0] if headers else None
    header = first if isinstance(first, GgufHeader) else None
    reason = None
    for number, result in enumerate(headers, 1):
        if isinstance(result, Exception):
            where = f"part {number}: " if len(candidate.parts) > 1 else ""
            reason = f"{where}{_describe_error(result)}"
            break
        if len(candidate.parts) > 1 and (result.split_count, result.split_no) != (len(candidate.parts), number - 1):
            reason = (
                f"part {number}: its header says split {result.split_no} of {result.split_count}, "
                f"expected {number - 1} of {len(candidate.parts)}"
            )
            break
    if reason is None and header is not None:
        if header.architecture is None:
            reason = "GGUF without general.architecture"
        elif header.model_type in ("mmproj", "adapter") or header.architecture == "clip":
            reason = f"not a model to serve ({header.model_type or header.architecture})"
    counts = [h.n_elements for h in headers if isinstance(h, GgufHeader) and h.n_elements is not None]
    params = sum(counts) if counts and len(counts) == len(headers) else None
    enabled = candidate.enabled and reason is None
    return replace(
        candidate,
        header=header,
        parameter_count=params or None,
        enabled=enabled,
        reason=candidate.reason if candidate.reason else reason,
    )


def _describe_error(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file vanished while listing"
    if isinstance(exc, PermissionError):
        return "permission denied reading the header"
    if isinstance(exc, CommandTimeout):
        return "reading the header timed out (is the share responding?)"
    return str(exc)


async def _headers(
    transport: Transport, candidate: ModelCandidate, limit: asyncio.Semaphore, timeout: float
) -> ModelCandidate:
    results: list[GgufHeader | Exception] = []
    async with limit:
        for part in candidate.parts:
            try:
                results.append(await read_header(transport, part, timeout=timeout))
            except (ValueError, FileNotFoundError, PermissionError, CommandTimeout) as exc:
                results.append(exc)
                break
    return apply_headers(candidate, results)


async def list_models(
    transport: Transport, share: str, *, timeout: float = 30.0, read_headers: bool = True, header_timeout: float = 15.0
) -> list[ModelCandidate]:
    """The share's models, grouped, with headers read remotely (ValueError when the share can't be listed)."""
    result = await transport.run(listing_argv(share), timeout=timeout)
    entries = parse_listing(result.stdout)
    if not result.ok and not entries:
        complaint = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"cannot list {share}: {complaint}")
    candidates = group_models(entries)
    if not read_headers:
        return candidates
    limit = asyncio.Semaphore(4)
    return list(
        await asyncio.gather(
            *(_headers(transport, c, limit, header_timeout) if c.enabled else _noop(c) for c in candidates)
        )
    )


async def _noop(candidate: ModelCandidate) -> ModelCandidate:
    return candidate
