"""The remote engine's abort on a real replica, measured from a process of its own.

`python -m tests.engines.abort_probe URL ATTEMPTS < settings.json` starts a long greedy
generation through `OpenAIRemoteEngine`, closes the stream after 3 deltas, waits until the
replica is idle, and prints one JSON line per attempt: the tokens the replica generated for it
and when the deltas came. Run apart from pytest's process, which also holds the in-process
engine: there, the request's `socket.send` was seen held until the replica had generated
everything in about half of the runs (see `test_closing_the_stream_aborts_on_the_replica`).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import httpx

from server.engines.base import GenerationParams
from server.engines.factory import create_remote_engine
from server.engines.openai_remote import OpenAIRemoteEngine
from server.settings import Settings
from tests.engines.pages import page, vtc_messages

# Left alone, this greedy request runs to the cap (observed: no EOS in 3600 tokens, ~5-8 s).
LONG_TOKENS = 3600


async def _metric(client: httpx.AsyncClient, url: str, name: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    values = [
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    ]
    assert values, f"{name} not exported"
    return sum(values)


async def close_early(engine: OpenAIRemoteEngine, url: str, attempt: int) -> dict[str, float]:
    long = GenerationParams(max_tokens=LONG_TOKENS, temperature=0.0)
    async with httpx.AsyncClient(timeout=60) as client:
        before = await _metric(client, url, "vllm:generation_tokens_total")
        t0 = time.monotonic()
        agen = engine.generate(vtc_messages([page(91)]), long, f"close-{attempt}", "cl")
        for _ in range(3):
            await anext(agen)
        t_deltas = time.monotonic() - t0
        await agen.aclose()
        deadline = time.monotonic() + 60
        while await _metric(client, url, "vllm:num_requests_running") != 0:
            if time.monotonic() > deadline:
                raise AssertionError("request still running after the stream closed")
            await asyncio.sleep(0.05)  # polling the replica's metrics, not synchronisation
        generated = await _metric(client, url, "vllm:generation_tokens_total") - before
    return {"generated": generated, "t_deltas": t_deltas, "t_idle": time.monotonic() - t0}


async def main(url: str, attempts: int, settings: Settings) -> None:
    engine = await create_remote_engine(
        settings.model_copy(update={"engine": "openai", "backend_urls": [url]}),
        str(settings.model),
    )
    assert isinstance(engine, OpenAIRemoteEngine)
    try:
        for attempt in range(attempts):
            result = await close_early(engine, url, attempt)
            print(json.dumps(result), flush=True)
            if result["generated"] < LONG_TOKENS:
                break
    finally:
        await engine.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), Settings.model_validate_json(sys.stdin.read())))
