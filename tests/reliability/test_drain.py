"""SIGTERM drains: the app says 503 at once, uvicorn stops accepting connections, streams in
flight finish within the grace period, and ones that overrun it are cut and their engine
requests aborted. uvicorn runs in a thread (`DrainingServer`, what `vtcr1 serve` runs), and
the test delivers SIGTERM the way uvicorn's signal handler does: `server.handle_exit`."""

from __future__ import annotations

import contextlib
import json
import signal
import time

import httpx

from server.api.app import create_app, start_draining
from server.serve import build_server
from server.settings import Settings
from tests.reliability.conftest import running
from tests.reliability.support import assert_openai_error, chat
from tests.support.live_server import in_thread
from tests.support.scripted import RoundEngine, Turnstile
from tests.support.waiting import wait_until

URL = "/v1/chat/completions"


def refused(base: str) -> bool:
    try:
        httpx.get(f"{base}/health", timeout=2)
    except httpx.TransportError:
        return True
    return False


async def test_draining_app_refuses_new_work_with_503() -> None:
    app = create_app(Settings(), engine=RoundEngine(1))
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
        start_draining(app)
        ready = await client.get("/ready")
        chat_response = await client.post(URL, json=chat())
        health = await client.get("/health")
    assert ready.status_code == 503 and chat_response.status_code == 503
    assert_openai_error(chat_response.json(), "shutting_down")
    assert health.status_code == 200


def test_sigterm_lets_a_stream_in_flight_finish() -> None:
    gate = Turnstile()
    gate.allow(3)
    engine = RoundEngine(2, gate=gate)
    settings = Settings(shutdown_grace_s=20)
    app = create_app(settings, engine=engine)
    server = build_server(app, settings)
    with in_thread(server) as (base, thread), httpx.Client(base_url=base, timeout=30) as client:
        with client.stream("POST", URL, json=chat(stream=True)) as response:
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: {"))
            assert json.loads(first[6:])["object"] == "chat.completion.chunk"
            started = time.monotonic()
            server.handle_exit(signal.SIGTERM, None)
            assert app.state.vtc.draining  # /ready fails from this moment
            wait_until(lambda: refused(base), what="the listener to close")
            assert engine.loop is not None
            engine.loop.call_soon_threadsafe(gate.set)
            rest = [line[6:] for line in lines if line.startswith("data: ")]
        thread.join(timeout=20)
        assert not thread.is_alive() and time.monotonic() - started < 20
    assert rest[-1] == "[DONE]"
    finals = [json.loads(p) for p in rest[:-1]]
    reasons = [c["choices"][0]["finish_reason"] for c in finals if c["choices"]]
    assert reasons[-1] == "stop"
    assert engine.aborted == [] and engine.running == set() and len(engine.completed) == 2


def test_streams_past_the_grace_period_are_cut_and_aborted() -> None:
    gate = Turnstile()
    gate.allow(3)  # then held for good
    engine = RoundEngine(2, gate=gate)
    settings = Settings(shutdown_grace_s=0.5)
    app = create_app(settings, engine=engine)
    server = build_server(app, settings)
    with (
        in_thread(server) as (base, thread),
        httpx.Client(base_url=base, timeout=30) as client,
        client.stream("POST", URL, json=chat(stream=True)) as response,
    ):
        lines = response.iter_lines()
        next(line for line in lines if line.startswith("data: {"))
        started = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        thread.join(timeout=15)
        elapsed = time.monotonic() - started
        assert not thread.is_alive()
        rest = []
        with contextlib.suppress(httpx.HTTPError):
            rest = list(lines)
    assert 0.4 < elapsed < 10
    assert "data: [DONE]" not in rest  # cut, not finished
    assert engine.running == set() and len(engine.aborted) == 1
