"""Load on the real in-process vLLM engine (tiny model): 64 concurrent streaming requests, each
up to three rounds, a quarter cancelled at random points. Every other request completes, vLLM
is left with no request, `vtcr1_requests_in_flight` returns to 0, and the gateway's memory does
not grow from one wave to the next. Run with `-s` for the figures (README, "Reliability")."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import pytest

from server.api.app import create_app
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.conftest import SERVED_NAME
from tests.reliability.test_load import REQUESTS, Outcome, older_objects_frozen, rss_mb
from tests.support.live_server import serving
from tests.support.prometheus import metric
from tests.support.waiting import eventually

pytestmark = pytest.mark.engine
CANCELLED = REQUESTS // 4
BODY = {
    "model": SERVED_NAME,
    "messages": [{"role": "user", "content": "Prove that there are infinitely many primes."}],
    "stream": True,
    "vtc": {"max_rounds": 3, "round_max_tokens": 48},
}


async def one(client: httpx.AsyncClient, cancel_after: int | None, outcome: Outcome) -> None:
    seen = 0
    async with client.stream("POST", "/v1/chat/completions", json=BODY) as response:
        if response.status_code != 200:
            outcome.errors.append(f"status {response.status_code}")
            return
        last = ""
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            seen += 1
            outcome.chunks += 1
            last = line
            if '"error"' in line:
                outcome.errors.append(line[:200])
            if cancel_after is not None and seen >= cancel_after:
                outcome.cancelled += 1
                return  # closes the connection mid-stream
    if last == "data: [DONE]":
        outcome.completed += 1
    else:
        outcome.errors.append("stream ended without [DONE]")


async def wave(client: httpx.AsyncClient, rng: random.Random, per_request: int) -> Outcome:
    outcome = Outcome()
    cancel = set(rng.sample(range(REQUESTS), CANCELLED))
    await asyncio.gather(
        *(
            one(client, rng.randint(2, per_request // 2) if i in cancel else None, outcome)
            for i in range(REQUESTS)
        )
    )
    return outcome


async def test_64_streams_on_the_real_engine_with_a_quarter_cancelled(
    vllm_engine: VllmLocalEngine,
) -> None:
    app = create_app(
        Settings(served_model_name=SERVED_NAME, max_concurrent_requests=REQUESTS),
        engine=vllm_engine,
    )
    rng = random.Random(11)
    limits = httpx.Limits(max_connections=2 * REQUESTS, max_keepalive_connections=2 * REQUESTS)
    with older_objects_frozen():
        async with (
            serving(app) as base,
            httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client,
        ):
            warm = Outcome()
            await asyncio.gather(*(one(client, None, warm) for _ in range(4)))
            assert warm.completed == 4, warm.errors
            per_request = warm.chunks // 4
            rss = [rss_mb()]
            figures = []
            for _ in range(2):
                started = time.monotonic()
                outcome = await wave(client, rng, per_request)
                elapsed = time.monotonic() - started
                await eventually(
                    lambda: not vllm_engine.num_unfinished_requests(),
                    timeout_s=60,
                    what="vLLM to have no request left",
                )
                text = (await client.get("/metrics")).text
                assert outcome.errors == []
                assert outcome.completed == REQUESTS - CANCELLED
                assert outcome.cancelled == CANCELLED
                assert metric(text, "vtcr1_requests_in_flight") == 0
                assert metric(text, "vllm:num_requests_running") == 0
                rss.append(rss_mb())
                figures.append((outcome, elapsed))
    for n, (outcome, elapsed) in enumerate(figures, 1):
        print(
            f"\nreal-engine load wave {n}: {REQUESTS} streams, {outcome.cancelled} cancelled, "
            f"{outcome.completed} completed, {len(outcome.errors)} errors, {outcome.chunks} SSE "
            f"events, {elapsed:.1f} s, gateway RSS {rss[0]:.0f} -> {rss[n]:.0f} MB"
        )
    assert rss[2] - rss[1] < 64, "gateway memory grew from one wave to the next"
