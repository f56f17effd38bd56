"""Demo traffic: a short chat to each lab llama-server now and then, so tok/s figures move.

Bounded in count and time: one request in flight per server, `every_s` apart, at most
`max_requests` per server, each with a timeout. Only for the lab's 127.0.0.1 servers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import httpx

PROMPTS = ("Say hello to the operator.", "Count from one to twelve.", "Name three colours.")


async def chat_now_and_then(
    api_urls: Sequence[str], *, every_s: float = 4.0, max_requests: int = 900, max_tokens: int = 48
) -> None:
    async with httpx.AsyncClient(timeout=30.0, trust_env=False) as client:
        await asyncio.gather(*(_loop(client, url, every_s, max_requests, max_tokens) for url in api_urls))


async def _loop(client: httpx.AsyncClient, url: str, every_s: float, max_requests: int, max_tokens: int) -> None:
    for number in range(max_requests):
        body = {
            "messages": [{"role": "user", "content": PROMPTS[number % len(PROMPTS)]}],
            "max_tokens": max_tokens,
            "cache_prompt": False,
        }
        with contextlib.suppress(httpx.HTTPError):
            await client.post(f"{url}/v1/chat/completions", json=body)
        await asyncio.sleep(every_s)
