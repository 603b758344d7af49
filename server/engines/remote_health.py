"""What remote replicas say about themselves: `/health` and `/v1/models`.

A probe that fails marks the replica down for a while (the router then keeps it off new
sessions); one that succeeds clears the mark at once, so a recovered replica takes new sessions
again without waiting for the mark to expire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp


async def probe(client: aiohttp.ClientSession, url: str, timeout_s: float = 5.0) -> bool:
    """Whether the replica at `url` answers `/health` with 200."""
    try:
        async with client.get(
            f"{url}/health", timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            return response.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


@dataclass(frozen=True)
class ServedModel:
    """One card of a replica's `/v1/models`."""

    name: str
    max_model_len: int | None
    root: str | None  # vLLM: the model directory (or hub id) the replica loaded


async def fetch_served_model(
    base_urls: Sequence[str], timeout_s: float = 10.0
) -> ServedModel | None:
    """What the first answering replica serves (its `/v1/models`)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        for url in base_urls:
            try:
                async with client.get(f"{url.rstrip('/')}/v1/models") as resp:
                    resp.raise_for_status()
                    data = (await resp.json(content_type=None))["data"]
            except (aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError):
                continue
            if data:
                card = data[0]
                max_len = card.get("max_model_len")
                root = card.get("root")
                return ServedModel(
                    str(card["id"]), int(max_len) if max_len else None, str(root) if root else None
                )
    return None
