"""The remote engine against a real `vllm serve` on the tiny model (one replica per session).

Affinity across replicas is exercised with two base URLs of the same server
(`127.0.0.1` and `0.0.0.0`): routing only sees URLs, and one server keeps the 2-core machine
usable. Retry uses a URL where nothing listens.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from server.engines.base import GenerationDelta, GenerationParams
from server.engines.factory import create_remote_engine
from server.engines.openai_remote import OpenAIRemoteEngine
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.conftest import SERVED_NAME, TEST_MAX_MODEL_LEN
from tests.engines.pages import page, vtc_messages
from tests.engines.test_vllm_local import expected_prompt_tokens
from tests.support.vllm_process import VllmServer, free_port

pytestmark = pytest.mark.engine

GREEDY = GenerationParams(max_tokens=12, temperature=0.0)


async def collect(agen: AsyncIterator[GenerationDelta]) -> list[GenerationDelta]:
    return [d async for d in agen]


async def remote(settings: Settings, urls: list[str]) -> OpenAIRemoteEngine:
    engine = await create_remote_engine(
        settings.model_copy(update={"engine": "openai", "backend_urls": urls}),
        str(settings.model),
    )
    assert isinstance(engine, OpenAIRemoteEngine)
    return engine


async def test_factory_reads_the_served_model(
    vllm_server: VllmServer, engine_settings: Settings
) -> None:
    settings = engine_settings.model_copy(update={"served_model_name": None})
    engine = await remote(settings, [vllm_server.base_url])
    assert engine.info.name == SERVED_NAME  # from /v1/models
    assert engine.info.max_model_len == TEST_MAX_MODEL_LEN
    assert engine.info.wants_png
    assert engine.info.extra["image_overhead_tokens"] == 2
    assert engine.info.image_tokens(595, 400) == 294
    await engine.check_health()
    await engine.aclose()


async def test_same_accounting_as_the_local_engine(
    vllm_server: VllmServer, vllm_engine: VllmLocalEngine, engine_settings: Settings
) -> None:
    engine = await remote(engine_settings, [vllm_server.base_url])
    messages = vtc_messages([page(71), page(72, size=(700, 500))])
    local = await collect(vllm_engine.generate(messages, GREEDY, "same-local"))
    far = await collect(engine.generate(messages, GREEDY, "same-remote", session_id="same"))
    assert far[0].prompt_tokens == local[0].prompt_tokens  # known from the first delta on
    expected = expected_prompt_tokens(vllm_engine, messages)
    assert far[-1].prompt_tokens == local[-1].prompt_tokens == expected
    assert far[-1].generated_tokens == local[-1].generated_tokens == GREEDY.max_tokens
    assert far[-1].finish_reason == local[-1].finish_reason == "length"
    # Same pixels (PNG is lossless), same greedy model: the same text.
    assert "".join(d.text for d in far) == "".join(d.text for d in local)
    await engine.aclose()


async def test_second_round_hits_the_replica_prefix_cache(
    vllm_server: VllmServer, engine_settings: Settings
) -> None:
    engine = await remote(engine_settings, [vllm_server.base_url])
    p1, p2 = page(81), page(82)
    one, two = vtc_messages([p1]), vtc_messages([p1, p2])
    r1 = (await collect(engine.generate(one, GREEDY, "rc-1", session_id="rc")))[-1]
    r2 = (await collect(engine.generate(two, GREEDY, "rc-2", session_id="rc")))[-1]
    async with httpx.AsyncClient(timeout=5) as client:
        block = await _block_size(client, vllm_server.base_url)
    # Round 1's prompt up to the question is shared; the cache reuses it in whole blocks.
    question_and_reply_header = 20
    assert r2.cached_tokens >= r1.prompt_tokens - question_and_reply_header - block
    assert r2.cached_tokens > r1.cached_tokens
    await engine.aclose()


async def _block_size(client: httpx.AsyncClient, url: str) -> int:
    text = (await client.get(f"{url}/metrics")).text
    for line in text.splitlines():
        if line.startswith("vllm:cache_config_info{"):
            return int(line.split('block_size="', 1)[1].split('"', 1)[0])
    raise AssertionError("vllm:cache_config_info not exported")


async def _metric(client: httpx.AsyncClient, url: str, name: str) -> float:
    text = (await client.get(f"{url}/metrics")).text
    values = [
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{")
    ]
    assert values, f"{name} not exported"
    return sum(values)


# Left alone, this greedy request runs to the cap (observed: no EOS in 3600 tokens, ~8 s).
LONG_TOKENS = 3600
# Normally the first deltas arrive within 0.05-0.3 s.
STARVED_S = 2.0


async def _close_early(
    engine: OpenAIRemoteEngine, url: str, attempt: int
) -> tuple[float, float, float]:
    """Start a long greedy generation, close the stream after 3 deltas, wait until the replica
    is idle. Returns the tokens it generated for the request, when the 3 deltas had arrived,
    and when the replica was idle (seconds from the start)."""
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
            assert time.monotonic() < deadline, "request still running after the stream closed"
        generated = await _metric(client, url, "vllm:generation_tokens_total") - before
    return generated, t_deltas, time.monotonic() - t0


async def test_closing_the_stream_aborts_on_the_replica(
    vllm_server: VllmServer, engine_settings: Settings
) -> None:
    """The replica stops generating once the stream is closed.

    We compare the replica's token totals once it is idle (its /metrics can lag while it
    streams). The check needs the first deltas to arrive while the request is still running:
    in some runs of the whole suite they do not: `faulthandler` showed this process's event
    loop held ~5 s inside `socket.send` of the request body (aiohttp's `write_bytes`) until the
    replica had generated everything, with this process using 10 ms of CPU meanwhile (2026-11-30,
    about half the runs of `pytest tests/engines`, never with the file alone; a warm-up request
    with the same page did not help; cause not found). Such an attempt proves nothing and is
    repeated; if every attempt is late the test is skipped, never passed."""
    engine = await remote(engine_settings, [vllm_server.base_url])
    seen: list[str] = []
    try:
        for attempt in range(2):
            generated, t_deltas, t_idle = await _close_early(engine, vllm_server.base_url, attempt)
            seen.append(f"{generated:.0f} tokens, deltas at {t_deltas:.2f} s, idle {t_idle:.2f} s")
            if generated < LONG_TOKENS:
                return  # aborted
            assert t_deltas > STARVED_S, "the stream was closed early but not aborted: " + seen[-1]
    finally:
        await engine.aclose()
    pytest.skip("replica too starved to test the abort: " + "; ".join(seen))


async def test_retry_on_another_replica(vllm_server: VllmServer, engine_settings: Settings) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    engine = await remote(engine_settings, [dead, vllm_server.base_url])
    first = await collect(engine.generate(vtc_messages([page(93)]), GREEDY, "retry", "s-retry"))
    assert first[-1].finish_reason == "length"
    assert engine.replicas[0].failures == 1  # the dead one was tried first ...
    assert engine.session_replica("s-retry") == vllm_server.base_url  # ... the live one served
    await engine.check_health()  # one live replica is enough
    await engine.aclose()


async def test_affinity_and_least_busy(vllm_server: VllmServer, engine_settings: Settings) -> None:
    url_a = vllm_server.base_url
    url_b = url_a.replace("127.0.0.1", "0.0.0.0")  # Linux connects 0.0.0.0 to loopback
    engine = await remote(engine_settings, [url_a, url_b])
    # A short request we keep open: the replica finishes it at once (no load on the cores
    # during the test), but the engine counts it in flight until the stream is closed.
    short = GenerationParams(max_tokens=4, temperature=0.0)
    held = engine.generate(vtc_messages([page(94)]), short, "held", session_id="s-held")
    await anext(held)
    busy_url = engine.session_replica("s-held")
    other = url_b if busy_url == url_a else url_a
    for rnd in range(2):  # a new session avoids the busy replica, and its rounds stay put
        msgs = vtc_messages([page(95 + i) for i in range(rnd + 1)])
        await collect(engine.generate(msgs, GREEDY, f"aff-{rnd}", session_id="s-new"))
        assert engine.session_replica("s-new") == other
    assert [r.failures for r in engine.replicas] == [0, 0]  # routing, not fail-over
    await held.aclose()
    await engine.aclose()
