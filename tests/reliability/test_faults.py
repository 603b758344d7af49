"""Faults: a dying engine, remote replicas down, a renderer that fails, and the engine death
signal (fail /ready, stop the server, exit 1)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from renderer import PageStream, RendererError
from server.api.app import create_app
from server.engine_watch import EngineWatch
from server.engines.base import EngineError
from server.settings import Settings
from tests.reliability.conftest import AppClient, running
from tests.reliability.support import DyingEngine, assert_openai_error, chat
from tests.support.fake_replicas import FakeReplicas, GateOnFirstDelta
from tests.support.prometheus import metric
from tests.support.scripted import RoundEngine, Turnstile
from tests.support.waiting import eventually, wait_until

ROOT = Path(__file__).resolve().parents[2]


def sse_payloads(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


async def test_engine_death_fails_requests_ready_and_stops_the_server() -> None:
    gate = Turnstile()
    gate.allow(3)
    engine = DyingEngine(3, gate=gate)
    stopped: list[int] = []
    app = create_app(
        Settings(engine_health_interval_s=0),
        engine=engine,
        on_fatal=lambda: stopped.append(1),
    )
    async with running(app) as client:
        streamed = asyncio.create_task(client.post("/v1/chat/completions", json=chat(stream=True)))
        await gate.until_waiting(1)
        plain = asyncio.create_task(client.post("/v1/chat/completions", json=chat()))
        await gate.until_waiting(2)
        engine.die()
        stream_response, plain_response = await asyncio.gather(streamed, plain)
        await eventually(lambda: bool(stopped), what="the fatal callback")
        ready = await client.get("/ready")
        refused = await client.post("/v1/chat/completions", json=chat())
        health = await client.get("/health")
        metrics = (await client.get("/metrics")).text
    # The stream had started: the error is in-band, then [DONE].
    assert stream_response.status_code == 200
    payloads = sse_payloads(stream_response.text)
    assert payloads[-1] == "[DONE]"
    assert_openai_error(json.loads(payloads[-2]), "engine_error")
    # The other had not sent a byte: a status code.
    assert plain_response.status_code == 502
    assert_openai_error(plain_response.json(), "engine_error")
    assert ready.status_code == 503 and refused.status_code == 503
    assert_openai_error(refused.json(), "engine_dead")
    assert health.status_code == 200  # alive enough to say so, until it exits
    assert stopped == [1]
    assert engine.running == set()
    assert metric(metrics, "vtcr1_requests_in_flight") == 0


async def test_periodic_health_check_notices_a_death_without_traffic() -> None:
    engine = DyingEngine(1)
    stopped: list[int] = []
    app = create_app(
        Settings(engine_health_interval_s=0.02),
        engine=engine,
        on_fatal=lambda: stopped.append(1),
    )
    async with running(app) as client:
        assert (await client.get("/ready")).status_code == 200
        engine.die()
        await eventually(lambda: bool(stopped), what="the periodic check")
        assert (await client.get("/ready")).status_code == 503
    assert stopped == [1]


async def test_fatal_flag_and_retryable_failures() -> None:
    deaths: list[str] = []
    watch = EngineWatch(RoundEngine(1), interval_s=0, on_dead=deaths.append)
    transient = EngineError("all replicas down", retryable=True)
    watch.report(transient)
    await watch.aclose()
    assert deaths == []  # retryable: replicas may come back, no restart
    fatal = EngineError("engine core died")
    fatal.fatal = True  # type: ignore[attr-defined]
    watch.report(fatal)
    watch.report(fatal)
    assert deaths == ["engine core died"] and watch.dead == "engine core died"


def is_ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_the_process_exits_1_when_the_engine_dies() -> None:
    """`vtcr1 serve`'s own path (`server.serve.serve`) in a child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.dying_server"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline().strip())
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: is_ready(base), timeout_s=60, what="the child to be ready", poll_s=0.05)
        response = httpx.post(f"{base}/v1/chat/completions", json=chat(), timeout=30)
        assert response.status_code == 502
        assert child.wait(timeout=30) == 1
        assert "the engine is dead" in (child.stderr.read() if child.stderr else "")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


BASELINE = {"vtc": {"mode": "baseline"}}


async def test_a_down_replica_is_invisible_to_the_client(app_client: AppClient) -> None:
    async with FakeReplicas({"r0": "down", "r1": "500", "r2": "ok"}) as fake:
        engine = fake.engine(model="scripted")
        async with app_client(engine) as client:
            for _ in range(3):
                response = await client.post("/v1/chat/completions", json=chat(**BASELINE))
                assert response.status_code == 200, response.text
                assert response.json()["choices"][0]["message"]["reasoning_content"] == "abc"
        await engine.aclose()


async def test_every_replica_down_is_503_with_retry_after(app_client: AppClient) -> None:
    async with FakeReplicas({"r0": "down", "r1": "down"}) as fake:
        engine = fake.engine(model="scripted")
        async with app_client(engine) as client:
            plain = await client.post("/v1/chat/completions", json=chat(**BASELINE))
            streamed = await client.post("/v1/chat/completions", json=chat(stream=True, **BASELINE))
            ready = await client.get("/ready")
            state = client._transport.app.state.vtc  # type: ignore[attr-defined]
        await engine.aclose()
    for response in (plain, streamed):
        assert response.status_code == 503 and response.headers["retry-after"] == "2"
        assert_openai_error(response.json(), "engine_unavailable")
    assert ready.status_code == 503
    assert state.dead is None  # replicas may come back: no restart


async def test_a_replica_dying_mid_stream_is_an_in_band_error(app_client: AppClient) -> None:
    async with FakeReplicas({"r0": "midway"}) as fake:
        engine = GateOnFirstDelta(fake.engine(model="scripted"), fake)
        async with app_client(engine) as client:
            streamed = await client.post("/v1/chat/completions", json=chat(stream=True, **BASELINE))
            plain = await client.post("/v1/chat/completions", json=chat(**BASELINE))
        await engine.aclose()
    payloads = sse_payloads(streamed.text)
    assert streamed.status_code == 200 and payloads[-1] == "[DONE]"
    assert_openai_error(json.loads(payloads[-2]), "engine_error")
    assert plain.status_code == 502


class FailingSink:
    """A page sink that fails on the n-th chunk, as the renderer might on odd text."""

    def __init__(self, exc: Exception, after: int = 3) -> None:
        self.exc = exc
        self.after = after
        self.inner = PageStream(max_pages=4)

    def feed(self, chunk: str) -> list[Image.Image]:
        self.after -= 1
        if self.after <= 0:
            raise self.exc
        return self.inner.feed(chunk)

    def flush(self) -> list[Image.Image]:
        return self.inner.flush()


@pytest.mark.parametrize(
    "exc", [RendererError("glyph U+10FFFF has no outline"), ValueError("bad width")]
)
async def test_render_failure_is_an_error_with_its_cause(app_client: AppClient, exc: Any) -> None:
    engine = RoundEngine(3)
    sink = {"page_sink": lambda max_pages: FailingSink(exc)}
    async with app_client(engine, app_kwargs=sink) as client:
        streamed = await client.post("/v1/chat/completions", json=chat(stream=True))
        plain = await client.post("/v1/chat/completions", json=chat())
        assert (await client.get("/ready")).status_code == 200
    payloads = sse_payloads(streamed.text)
    assert streamed.status_code == 200 and payloads[-1] == "[DONE]"
    error = assert_openai_error(json.loads(payloads[-2]), "render_failed")
    assert str(exc) in str(error["message"])
    assert plain.status_code == 500
    assert str(exc) in plain.json()["error"]["message"]
    assert plain.json()["error"]["code"] == "render_failed"
    assert engine.running == set() and len(engine.aborted) == 2
