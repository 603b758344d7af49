"""A client that goes away at any point — queued, before the first byte, mid-reasoning,
between rounds, during rendering — aborts its engine request and leaves nothing running.
Real HTTP (uvicorn on loopback), since disconnects are a property of the connection."""

from __future__ import annotations

import asyncio
import json
import threading

import httpx
from PIL import Image

from renderer import PageStream
from server.api.app import create_app
from server.settings import Settings
from tests.reliability.support import chat
from tests.support.live_server import live_server, serving
from tests.support.prometheus import metric
from tests.support.scripted import THINKING, RoundEngine, Turnstile, tokens_of
from tests.support.waiting import eventually, wait_until

URL = "/v1/chat/completions"


async def nothing_left(engine: RoundEngine, client: httpx.AsyncClient) -> None:
    await eventually(lambda: not engine.running and bool(engine.aborted), what="the abort")
    text = (await client.get("/metrics")).text
    assert metric(text, "vtcr1_requests_in_flight") == 0
    assert metric(text, "vtcr1_requests_total", status="cancelled") >= 1


async def test_disconnect_before_the_first_byte() -> None:
    gate = Turnstile()  # closed: the first token never comes
    engine = RoundEngine(2, gate=gate)
    app = create_app(Settings(), engine=engine)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
        for stream in (True, False):
            request = asyncio.create_task(client.post(URL, json=chat(stream=stream)))
            await gate.until_waiting(1)
            request.cancel()  # closes the connection
            await asyncio.gather(request, return_exceptions=True)
            await nothing_left(engine, client)
        assert len(engine.aborted) == 2


async def test_disconnect_while_queued() -> None:
    gate = Turnstile()
    engine = RoundEngine(1, gate=gate)
    settings = Settings(max_concurrent_requests=1, max_queued_requests=4)
    app = create_app(settings, engine=engine)
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
        first = asyncio.create_task(client.post(URL, json=chat()))
        await gate.until_waiting(1)
        queued = asyncio.create_task(client.post(URL, json=chat()))
        admission = app.state.vtc.admission
        await eventually(lambda: admission.queued == 1, what="the queued request")
        queued.cancel()
        await asyncio.gather(queued, return_exceptions=True)
        await eventually(lambda: admission.queued == 0, what="the queue to empty")
        gate.set()
        assert (await first).status_code == 200
        assert admission.running == 0 and len(engine.calls) == 1


async def test_disconnect_mid_reasoning_and_between_rounds() -> None:
    round_tokens = len(tokens_of(THINKING))
    cases = {
        "mid-reasoning": (5, lambda c: bool(c["choices"] and c["choices"][0]["delta"])),
        "between rounds": (round_tokens, lambda c: "vtc" in c),
    }
    for name, (allowed, seen) in cases.items():
        gate = Turnstile()
        gate.allow(allowed)
        engine = RoundEngine(3, gate=gate)
        app = create_app(Settings(), engine=engine)
        async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
            async with client.stream("POST", URL, json=chat(stream=True)) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: {") and seen(json.loads(line[6:])):
                        break
                await gate.until_waiting(1)
            await nothing_left(engine, client)
        if name == "between rounds":
            assert engine.completed == [engine.calls[0].request_id]  # round 1 ran to its end
            assert engine.aborted == [engine.calls[1].request_id]  # round 2 was aborted
        else:
            assert engine.completed == [] and len(engine.aborted) == 1


class BlockingSink:
    """Blocks the server's loop inside rendering until the client has gone."""

    def __init__(self, rendering: threading.Event, client_gone: threading.Event) -> None:
        self.rendering = rendering
        self.client_gone = client_gone
        self.inner = PageStream(max_pages=8)

    def feed(self, chunk: str) -> list[Image.Image]:
        if not self.rendering.is_set():
            self.rendering.set()
            assert self.client_gone.wait(timeout=10), "the client never left"
        return self.inner.feed(chunk)

    def flush(self) -> list[Image.Image]:
        return self.inner.flush()


def test_disconnect_during_rendering() -> None:
    rendering, client_gone = threading.Event(), threading.Event()
    engine = RoundEngine(3)
    app = create_app(
        Settings(),
        engine=engine,
        page_sink=lambda max_pages: BlockingSink(rendering, client_gone),
    )
    with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        with client.stream("POST", URL, json=chat(stream=True)):
            assert rendering.wait(timeout=10)
        client_gone.set()  # the response (and its connection) is closed now
        wait_until(lambda: not engine.running and bool(engine.aborted), what="the abort")
        assert metric(client.get("/metrics").text, "vtcr1_requests_in_flight") == 0
    assert engine.completed == [] and len(engine.aborted) == 1
