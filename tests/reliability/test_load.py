"""Load: 64 concurrent streaming requests over real HTTP, each three rounds (two rendered to
pages), a quarter of them cancelled at random points. Every other request completes, no engine
request is left running, `vtcr1_requests_in_flight` returns to 0, and memory returns to its
level. Run with `-s` to see the figures (they are in README.md, "Reliability")."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psutil
from fastapi import FastAPI

from server.api.app import create_app
from server.loop.events import RenderedPage
from server.settings import Settings
from tests.reliability.support import chat
from tests.support.live_server import serving
from tests.support.prometheus import metric
from tests.support.scripted import THINKING, RoundEngine
from tests.support.waiting import eventually

REQUESTS = 64
CANCELLED = REQUESTS // 4
ROUNDS = 3
URL = "/v1/chat/completions"


@dataclass
class Outcome:
    completed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)
    chunks: int = 0


def rss_mb() -> float:
    """RSS after a full collection and, on glibc, `malloc_trim` (so memory that is free but
    still held in malloc arenas does not count as kept)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return float(psutil.Process().memory_info().rss) / 2**20


async def one(client: httpx.AsyncClient, cancel_after: int | None, outcome: Outcome) -> None:
    payloads: list[str] = []
    async with client.stream("POST", URL, json=chat(stream=True)) as response:
        if response.status_code != 200:
            outcome.errors.append(f"status {response.status_code}")
            return
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            payloads.append(line[6:])
            outcome.chunks += 1
            if cancel_after is not None and len(payloads) >= cancel_after:
                outcome.cancelled += 1
                return  # leaving the block closes the connection mid-stream
    if payloads[-1] != "[DONE]":
        outcome.errors.append("no [DONE]")
        return
    chunks = [json.loads(p) for p in payloads[:-1]]
    if any("error" in c for c in chunks):
        outcome.errors.append("in-band error")
        return
    final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    if final["choices"][0]["finish_reason"] != "stop" or final["vtc"]["rounds"] != ROUNDS:
        outcome.errors.append(f"unexpected end {final['choices'][0]['finish_reason']}")
        return
    outcome.completed += 1


async def wave(client: httpx.AsyncClient, rng: random.Random, total_chunks: int) -> Outcome:
    outcome = Outcome()
    cancel = set(rng.sample(range(REQUESTS), CANCELLED))
    await asyncio.gather(
        *(
            one(client, rng.randint(1, total_chunks - 1) if i in cancel else None, outcome)
            for i in range(REQUESTS)
        )
    )
    return outcome


@dataclass
class Figures:
    outcome: Outcome
    elapsed_s: float
    calls: int
    aborted: int
    pages: float
    rss_mb: float


@contextlib.contextmanager
def older_objects_frozen() -> Iterator[None]:
    """`gc.freeze()` for the test's duration: the objects that exist before it (in a full
    session, vLLM's and torch's: ~600k) are left out of every collection and of
    `gc.get_objects()`. Each full collection then costs milliseconds instead of ~2-3 s, which
    the test runs several of, and objects of the requests are all that the checks look at."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def measured_wave(
    client: httpx.AsyncClient, engine: RoundEngine, app: FastAPI, rng: random.Random, chunks: int
) -> Figures:
    """One wave, then the checks that nothing of it is left running or alive."""
    pages_before = metric((await client.get("/metrics")).text, "vtcr1_rendered_pages_total")
    started = time.monotonic()
    outcome = await wave(client, rng, chunks)
    elapsed = time.monotonic() - started
    await eventually(lambda: not engine.running, what="no engine request running")
    text = (await client.get("/metrics")).text
    assert outcome.errors == []
    assert outcome.completed == REQUESTS - CANCELLED
    assert outcome.cancelled == CANCELLED
    assert metric(text, "vtcr1_requests_in_flight") == 0
    assert app.state.vtc.admission.running == 0
    # Each cancelled stream aborts its engine request, unless it was cancelled after the last
    # token (then there is nothing left to abort).
    assert 1 <= len(engine.aborted) <= CANCELLED
    calls, aborted = len(engine.calls), len(engine.aborted)
    engine.calls.clear()  # the fake engine's record holds the requests' messages (pages)
    engine.aborted.clear()
    rss = rss_mb()
    # Nothing of the requests stays alive: no pages, no tasks beyond the idle server's.
    assert sum(isinstance(o, RenderedPage) for o in gc.get_objects()) == 0
    pages = metric(text, "vtcr1_rendered_pages_total") - pages_before
    return Figures(outcome, elapsed, calls, aborted, pages, rss)


async def test_64_concurrent_streams_with_a_quarter_cancelled() -> None:
    engine = RoundEngine(ROUNDS, thinking=THINKING * 4)  # ~420 tokens a round
    app = create_app(Settings(max_concurrent_requests=REQUESTS), engine=engine)
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=2 * REQUESTS, max_keepalive_connections=2 * REQUESTS)
    with older_objects_frozen():
        async with (
            serving(app) as base,
            httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client,
        ):
            # Warm-up: fonts, renderer caches, connections; then the baseline.
            warm = Outcome()
            await asyncio.gather(*(one(client, None, warm) for _ in range(8)))
            assert warm.completed == 8, warm.errors
            engine.calls.clear()
            rss_before = rss_mb()
            tasks_before = len(asyncio.all_tasks())
            figures = []
            for _ in range(2):  # a second wave shows nothing accumulates across waves
                figures.append(await measured_wave(client, engine, app, rng, warm.chunks // 8))
                assert len(asyncio.all_tasks()) <= tasks_before
    for n, f in enumerate(figures, 1):
        print(
            f"\nload wave {n}: {REQUESTS} streams x {ROUNDS} rounds, {f.outcome.cancelled} "
            f"cancelled, {f.outcome.completed} completed, {len(f.outcome.errors)} errors, "
            f"{f.outcome.chunks} SSE events, {f.calls} engine requests ({f.aborted} aborted), "
            f"{f.pages:.0f} pages rendered, {f.elapsed_s:.2f} s, "
            f"RSS {rss_before:.0f} -> {f.rss_mb:.0f} MB"
        )
    # RSS is noisier than objects (allocator arenas): a loose bound on the way back.
    assert figures[-1].rss_mb - rss_before < 64, "memory did not return near its level"
