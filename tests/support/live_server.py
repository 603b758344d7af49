"""Run an app under a real uvicorn on a free loopback port, for tests that need real HTTP.

`serving(app)` runs it as a task on the current event loop (use it when the app shares an
engine created on that loop, e.g. the session's in-process vLLM engine); `live_server(app)` runs
it in a thread of its own with its own loop (for sync callers); `in_thread(server)` does that
for a server the test built itself (e.g. `vtcr1 serve`'s `DrainingServer`). All wait for
uvicorn's `started` flag with a deadline, and shut the server down (lifespan included) on exit.

Keep-alive: the test servers keep an idle connection open for `KEEP_ALIVE_S` (60 s), far longer
than a test client pools one (httpx and the openai SDK: 5 s; aiohttp: 15 s), so it is always
the client that drops an idle connection. With uvicorn's default (5 s, the same as httpx's) the
two raced: a client could take a pooled connection from its pool just as the server's timer
closed it, and the request on it failed with `httpx.ReadError`. A server on the test's own loop
(`serving`) made that likely: while the loop is blocked (a `gc.collect()` takes ~2.6 s once
vLLM is imported), the client's pool check runs before the server's overdue timer does.
`tests/reliability/test_keep_alive.py` reproduces that race and holds the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

from tests.support.waiting import eventually, wait_until

START_TIMEOUT_S = 120.0
KEEP_ALIVE_S = 60


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def make_server(app: FastAPI, *, keep_alive_s: int = KEEP_ALIVE_S) -> uvicorn.Server:
    """The uvicorn server the helpers run: quiet, lifespan on, the tests' keep-alive."""
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="on",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=keep_alive_s,
        access_log=False,
    )
    return uvicorn.Server(config)


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(app: FastAPI, *, keep_alive_s: int = KEEP_ALIVE_S) -> AsyncIterator[str]:
    sock = _bound_socket()
    server = make_server(app, keep_alive_s=keep_alive_s)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(
            lambda: server.started or task.done(), timeout_s=START_TIMEOUT_S, what="uvicorn"
        )
        if not server.started:
            task.result()
            raise RuntimeError("uvicorn exited before it started")
        yield _base_url(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def in_thread(server: uvicorn.Server) -> Iterator[tuple[str, threading.Thread]]:
    """Run `server` in a daemon thread; yields its base URL and the thread."""
    sock = _bound_socket()
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: server.started or not thread.is_alive(),
            timeout_s=START_TIMEOUT_S,
            what="uvicorn",
        )
        if not server.started:
            raise RuntimeError("uvicorn exited before it started")
        yield _base_url(sock), thread
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    with in_thread(make_server(app)) as (base, _):
        yield base
