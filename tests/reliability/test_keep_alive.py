"""A connection that a test client's pool still holds as reusable is never one the test server
has closed for being idle. This was the cause of a flake of the load test (`httpx.ReadError` on
a request sent over a pooled connection, once in a full `make test`); the mechanism and the fix
are in `tests/support/live_server.py`.

The race, made deterministic: the client reads a finished response a moment after the server
sent it (so the server's keep-alive clock started earlier than the client pool's), then the
shared event loop is blocked (as `gc.collect()` blocks it for seconds once vLLM is imported)
until just before the client's pool would drop the connection. With uvicorn's default 5 s
keep-alive, the server's timer is overdue by then but has not run: the client reuses the
connection, sends, and the server's timer closes it under the request (`httpx.ReadError`).
With the test servers' keep-alive, the connection is still open and the request succeeds.
"""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from tests.support.live_server import serving

CLIENT_EXPIRY_S = 5.0  # httpx's (and the openai SDK's) pool: idle connections kept 5 s
LAG_S = 0.3  # the client reads the finished response this much after the server sent it
MARGIN_S = 0.1  # the blocked loop resumes this much before the client's pool expiry


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo() -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_a_pooled_connection_outlives_the_clients_idle_expiry() -> None:
    assert httpx.AsyncClient()._transport._pool._keepalive_expiry == CLIENT_EXPIRY_S  # type: ignore[attr-defined]
    async with serving(echo_app()) as base, httpx.AsyncClient(base_url=base) as client:
        async with client.stream("POST", "/echo") as response:
            await asyncio.sleep(LAG_S)  # the scenario: the body is read late
            await response.aread()
        released = time.monotonic()
        # The scenario: a blocking step on the loop the server shares (not a wait for anything).
        blocked_until = released + CLIENT_EXPIRY_S - MARGIN_S
        time.sleep(blocked_until - time.monotonic())  # noqa: ASYNC251  (blocking is the point)
        again = await client.post("/echo")
        assert again.status_code == 200 and again.json() == {"ok": True}
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert len(pool.connections) == 1  # the same connection, reused
