"""Run an app under a real uvicorn on a free loopback port, for tests that need real HTTP.

`serving(app)` runs it as a task on the current event loop (use it when the app shares an
engine created on that loop, e.g. the session's in-process vLLM engine); `live_server(app)` runs
it in a thread of its own with its own loop (for sync callers). Both wait for uvicorn's
`started` flag with a deadline, and shut the server down (lifespan included) on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 120.0


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _server(app: FastAPI) -> uvicorn.Server:
    config = uvicorn.Config(
        app, log_config=None, lifespan="on", timeout_graceful_shutdown=5, access_log=False
    )
    return uvicorn.Server(config)


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    sock = _bound_socket()
    server = _server(app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited before it started")
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start in time")
        await asyncio.sleep(0.005)
    try:
        yield _base_url(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    sock = _bound_socket()
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before it started")
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start in time")
        time.sleep(0.005)
    try:
        yield _base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
