"""Admission (bounded running + bounded queue -> 429 with Retry-After) and the per-request
deadline (504 before the first byte, in-band error after, engine request aborted)."""

from __future__ import annotations

import asyncio
import json

import pytest

from server.admission import Admission
from server.errors import Overloaded
from tests.reliability.conftest import AppClient
from tests.reliability.support import assert_openai_error, chat
from tests.support.prometheus import metric
from tests.support.scripted import RoundEngine, Turnstile
from tests.support.waiting import eventually


async def test_admission_bounds_running_and_queued_fifo() -> None:
    admission = Admission(max_running=1, max_queued=1, queue_timeout_s=30)
    order: list[str] = []
    first = admission.slot()
    await first.__aenter__()

    async def queued() -> None:
        async with admission.slot():
            order.append("queued")

    waiter = asyncio.create_task(queued())
    await eventually(lambda: admission.queued == 1, what="the second request to queue")
    with pytest.raises(Overloaded) as refused:
        async with admission.slot():
            pass
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "5"
    await first.__aexit__(None, None, None)
    await asyncio.wait_for(waiter, 5)
    assert order == ["queued"] and admission.running == 0 and admission.queued == 0


async def test_queue_timeout_and_cancelled_waiters_free_their_place() -> None:
    admission = Admission(max_running=1, max_queued=2, queue_timeout_s=0.05)
    hold = admission.slot()
    await hold.__aenter__()
    with pytest.raises(Overloaded, match="within"):
        async with admission.slot():
            pass
    admission.queue_timeout_s = 30
    cancelled = asyncio.create_task(admission.slot().__aenter__())
    await eventually(lambda: admission.queued == 1, what="a waiter")
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    assert admission.queued == 0
    await hold.__aexit__(None, None, None)
    assert admission.running == 0
    async with admission.slot():
        assert admission.running == 1
    assert admission.running == 0


async def test_over_capacity_is_429_with_retry_after_and_recovers(app_client: AppClient) -> None:
    gate = Turnstile()
    engine = RoundEngine(1, gate=gate)
    async with app_client(engine, max_concurrent_requests=1, max_queued_requests=0) as client:
        held = asyncio.create_task(client.post("/v1/chat/completions", json=chat()))
        await gate.until_waiting(1)
        refused = await client.post("/v1/chat/completions", json=chat(stream=True))
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
        assert_openai_error(refused.json(), "server_overloaded")
        assert refused.json()["error"]["type"] == "rate_limit_error"
        gate.set()
        assert (await held).status_code == 200
        again = await client.post("/v1/chat/completions", json=chat())
        assert again.status_code == 200
        text = (await client.get("/metrics")).text
    assert metric(text, "vtcr1_requests_total", status="rejected") == 1
    assert metric(text, "vtcr1_requests_in_flight") == 0


async def test_queued_request_runs_when_a_slot_frees(app_client: AppClient) -> None:
    gate = Turnstile()
    engine = RoundEngine(1, gate=gate)
    async with app_client(engine, max_concurrent_requests=1, max_queued_requests=1) as client:
        first = asyncio.create_task(client.post("/v1/chat/completions", json=chat()))
        await gate.until_waiting(1)
        second = asyncio.create_task(client.post("/v1/chat/completions", json=chat()))
        state = client._transport.app.state.vtc  # type: ignore[attr-defined]
        await eventually(lambda: state.admission.queued == 1, what="the queued request")
        assert len(engine.calls) == 1  # the queued one has not reached the engine
        gate.set()
        assert [r.status_code for r in await asyncio.gather(first, second)] == [200, 200]
    assert len(engine.calls) == 2


async def test_deadline_before_first_byte_is_504_and_aborts(app_client: AppClient) -> None:
    gate = Turnstile()  # never opened: the engine holds the first token
    engine = RoundEngine(2, gate=gate)
    async with app_client(engine, request_timeout_s=0.2) as client:
        plain = await client.post("/v1/chat/completions", json=chat())
        streamed = await client.post("/v1/chat/completions", json=chat(stream=True))
        text = (await client.get("/metrics")).text
    for response in (plain, streamed):
        assert response.status_code == 504
        error = assert_openai_error(response.json(), "deadline_exceeded")
        assert error["type"] == "timeout_error"
    assert engine.running == set() and len(engine.aborted) == 2
    assert metric(text, "vtcr1_requests_total", status="timeout") == 2
    assert metric(text, "vtcr1_requests_in_flight") == 0


async def test_deadline_mid_stream_is_an_in_band_error(app_client: AppClient) -> None:
    gate = Turnstile()
    gate.allow(5)  # some reasoning, then the engine stalls
    engine = RoundEngine(3, gate=gate)
    async with app_client(engine, request_timeout_s=0.3) as client:
        response = await client.post("/v1/chat/completions", json=chat(stream=True))
    assert response.status_code == 200
    payloads = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    error = assert_openai_error(json.loads(payloads[-2]), "deadline_exceeded")
    assert "ran out of time" in str(error["message"])
    reasoning = [json.loads(p) for p in payloads[1:-2]]
    assert any(c["choices"] and c["choices"][0]["delta"].get("reasoning") for c in reasoning)
    assert engine.running == set() and engine.aborted == [engine.calls[-1].request_id]
