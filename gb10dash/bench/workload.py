"""The fixed, reproducible benchmark workload: a prompt of N tokens and M generated tokens.

The prompt is a fixed ASCII text (the same paragraphs, numbered, repeated) cut to N tokens
*of the server's own tokenizer*: one `/tokenize` call with pieces gives the token boundaries,
the text is cut after the N-th token (minus the BOS/EOS the server adds), and a second call
checks the count. Same N and same model → the same prompt, on every host and every run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

WORKLOAD_VERSION = 1  # bump when the text or the way it is cut changes (history stays comparable)
SEED = 1234
MAX_REPEAT = 50
PROMPT_TOKENS_RANGE = (16, 131072)
GEN_TOKENS_RANGE = (1, 16384)
TOLERANCE_TOKENS = 4  # the cut text may re-tokenize a few tokens off at its end

PARAGRAPHS = (
    "The keeper of the northern light climbed the spiral stairs every evening at dusk, counting "
    "one hundred and twelve steps, trimming the wick, polishing the great lens and writing the "
    "weather into a ledger that had been kept without a gap for ninety years.",
    "Ships passing the headland read the light as a promise: two long flashes and one short, "
    "repeated every fifteen seconds, visible for twenty nautical miles on a clear night and for "
    "far less when the fog came down from the hills and swallowed the coast road.",
    "In winter the supply boat came once a fortnight with flour, lamp oil, letters and a crate "
    "of apples, and the keeper rowed out to meet it when the swell allowed, or waited on the "
    "jetty with a coil of rope when it did not.",
    "She kept a garden in the lee of the tower where cabbages, onions and a stubborn row of "
    "beans survived the salt wind, and she measured the rain in a brass gauge whose readings "
    "went into the same ledger as the barometer and the state of the sea.",
    "On the longest night of the year the mechanism that turned the lens began to slow, and she "
    "spent the hours until dawn winding the weights by hand, one turn every few minutes, so that "
    "the flashes kept their rhythm for every vessel that might be out there.",
    "When the engineers finally installed an electric lamp and an automatic clockwork, they "
    "asked her to write down everything she knew about the light, and the notes filled three "
    "notebooks with tables, sketches of the gears and remarks about the birds.",
)


@dataclass(frozen=True, slots=True)
class Workload:
    prompt_tokens: int
    gen_tokens: int
    repeat: int
    quick: bool = False
    seed: int = SEED
    version: int = WORKLOAD_VERSION

    def __post_init__(self) -> None:
        check_sizes(self.prompt_tokens, self.gen_tokens, self.repeat)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        kind = " (quick)" if self.quick else ""
        reps = "repetition" if self.repeat == 1 else "repetitions"
        return f"prompt {self.prompt_tokens} tokens, {self.gen_tokens} generated, {self.repeat} {reps}{kind}"


def check_sizes(prompt_tokens: int, gen_tokens: int, repeat: int) -> None:
    """Raise ValueError, worded for the operator, when a size is out of bounds."""
    low, high = PROMPT_TOKENS_RANGE
    if not low <= prompt_tokens <= high:
        raise ValueError(f"prompt tokens must be between {low} and {high}, got {prompt_tokens}")
    low, high = GEN_TOKENS_RANGE
    if not low <= gen_tokens <= high:
        raise ValueError(f"generated tokens must be between {low} and {high}, got {gen_tokens}")
    if not 1 <= repeat <= MAX_REPEAT:
        raise ValueError(f"repetitions must be between 1 and {MAX_REPEAT}, got {repeat}")


#: sized for a real GB10 (a long prompt, so that prefill speed is what is measured)
DEFAULT = Workload(prompt_tokens=2048, gen_tokens=256, repeat=3)
#: small enough for the lab's CPU llama-servers
QUICK = Workload(prompt_tokens=256, gen_tokens=32, repeat=3, quick=True)


def make_workload(
    *, quick: bool = False, prompt_tokens: int | None = None, gen_tokens: int | None = None, repeat: int | None = None
) -> Workload:
    base = QUICK if quick else DEFAULT
    return Workload(
        prompt_tokens=base.prompt_tokens if prompt_tokens is None else prompt_tokens,
        gen_tokens=base.gen_tokens if gen_tokens is None else gen_tokens,
        repeat=base.repeat if repeat is None else repeat,
        quick=quick,
    )


def base_text(min_chars: int) -> str:
    """The fixed text, at least `min_chars` long: numbered parts of the paragraphs, repeated."""
    parts: list[str] = []
    size, number = 0, 0
    while size < min_chars:
        paragraph = PARAGRAPHS[number % len(PARAGRAPHS)]
        part = f"Part {number + 1}. {paragraph}\n\n"
        parts.append(part)
        size += len(part)
        number += 1
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    n_tokens: int  # as the server counts it, with its BOS/EOS


class WorkloadError(Exception):
    """The server could not tokenize, or the prompt could not be cut to size."""


async def build_prompt(
    http: httpx.AsyncClient,
    n_tokens: int,
    *,
    model: str | None = None,
    timeout_s: float = 30.0,
    tolerance: int = TOLERANCE_TOKENS,
) -> Prompt:
    """The workload prompt of `n_tokens` tokens of this server's model (within `tolerance`).

    `model` is sent along (a server in router mode needs it to pick the model's tokenizer).
    """
    tokenizer = _Tokenizer(http, model, timeout_s)
    specials = (await tokenizer.count("x", True)) - (await tokenizer.count("x", False))
    want = max(1, n_tokens - specials)
    pieces = await tokenizer.pieces(base_text(want * 8 + 64))
    if len(pieces) < want:  # a tokenizer with very long tokens; try once with more text
        pieces = await tokenizer.pieces(base_text(want * 64 + 64))
    if len(pieces) < want:
        raise WorkloadError(f"the fixed text gives only {len(pieces)} tokens, {want} needed")
    text = "".join(pieces[:want])
    counted = await tokenizer.count(text, True)
    if abs(counted - n_tokens) > tolerance:
        raise WorkloadError(f"the prompt cut to {n_tokens} tokens counts {counted} tokens (more than {tolerance} off)")
    return Prompt(text=text, n_tokens=counted)


class _Tokenizer:
    """The server's /tokenize, bounded by a timeout per call."""

    def __init__(self, http: httpx.AsyncClient, model: str | None, timeout_s: float):
        self.http, self.model, self.timeout_s = http, model, timeout_s

    async def _tokens(self, body: dict[str, Any]) -> list[Any]:
        if self.model:
            body = {**body, "model": self.model}
        import httpx  # only where a bench runs (the dashboard imports this module for the workloads' names)

        try:
            response = await self.http.post("/tokenize", json=body, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise WorkloadError(f"/tokenize: {type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise WorkloadError(f"/tokenize answered HTTP {response.status_code}: {response.text[:200].strip()}")
        try:
            tokens = response.json()["tokens"]
        except (ValueError, KeyError, TypeError):
            raise WorkloadError(f"/tokenize: unexpected answer {response.text[:200]!r}") from None
        if not isinstance(tokens, list):
            raise WorkloadError("/tokenize: 'tokens' is not a list")
        return tokens

    async def count(self, text: str, add_special: bool) -> int:
        return len(await self._tokens({"content": text, "add_special": add_special}))

    async def pieces(self, text: str) -> list[str]:
        tokens = await self._tokens({"content": text, "add_special": False, "with_pieces": True})
        pieces = []
        for token in tokens:
            piece = token.get("piece") if isinstance(token, dict) else None
            if not isinstance(piece, str):  # ASCII text: every piece is a string on a server with pieces
                raise WorkloadError("/tokenize did not return text pieces (a llama-server older than with_pieces?)")
            pieces.append(piece)
        return pieces
