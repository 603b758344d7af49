"""`vtcr1 serve`: run the gateway under uvicorn with JSON logs and a graceful drain.

On SIGTERM the app is marked draining at once (`/ready` and new requests get 503, so a load
balancer stops sending), uvicorn stops accepting connections and waits for the requests in
flight, streams included, for up to `shutdown_grace_s` seconds before it cancels them (which
aborts their engine requests) and runs the lifespan's shutdown (which closes the engine).

If the engine dies, the app stops the server the same way and `serve` returns 1, so the
orchestrator restarts the process.

With `--workers N` (N > 1, remote mode only) a supervisor runs N of these servers on one listening
socket (`server/workers.py`); each worker is exactly the single-process server below.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from server.api.app import (
    EngineFactory,
    create_app,
    default_engine_factory,
    exit_code,
    start_draining,
)
from server.engines.preflight import refuse_to_start
from server.logs import configure_logging
from server.settings import Settings


class DrainingServer(uvicorn.Server):
    """uvicorn, telling the app it is draining as soon as the exit signal arrives."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        app = self.config.app
        if isinstance(app, FastAPI):
            start_draining(app)
        super().handle_exit(sig, frame)


def build_server(app: FastAPI, settings: Settings, **config: object) -> DrainingServer:
    options: dict[str, object] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "log_level": settings.log_level,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
        "access_log": False,
        **config,
    }
    return DrainingServer(uvicorn.Config(app, **options))  # type: ignore[arg-type]


def serve(
    settings: Settings,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    sockets: Sequence[socket.socket] | None = None,
) -> int:
    """`vtcr1 serve`: one server process, or with `settings.workers` > 1 a supervisor of that
    many (they build their engines with the default factory: the workers are new processes)."""
    if settings.workers > 1:
        from server.workers import refusal, serve_workers

        problem = refusal(settings)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
        if engine_factory is not default_engine_factory:
            raise ValueError("several workers build their engines with the default factory")
        return serve_workers(settings, sockets=sockets)
    return serve_one(settings, engine_factory=engine_factory, sockets=sockets)


def serve_one(
    settings: Settings,
    *,
    engine_factory: EngineFactory = default_engine_factory,
    sockets: Sequence[socket.socket] | None = None,
) -> int:
    """One server process until it stops: 0, 1 if the engine died, 3 if it never started
    (uvicorn's STARTUP_FAILURE: the supervisor of several workers does not restart those)."""
    configure_logging(settings.log_level)
    server: DrainingServer | None = None

    def stop_on_engine_death() -> None:
        if server is not None:
            server.should_exit = True  # not a signal: uvicorn then returns instead of re-raising

    app = create_app(settings, engine_factory=engine_factory, on_fatal=stop_on_engine_death)
    server = build_server(app, settings)
    server.run(sockets=list(sockets) if sockets else None)
    if not server.started:
        return STARTUP_FAILURE
    return exit_code(app)


def main(argv: list[str] | None = None) -> int:
    settings = Settings(_cli_parse_args=argv if argv is not None else True)
    # Wrong vLLM release or engine flags: one line and an exit, before any weights load.
    if (refused := refuse_to_start(settings)) is not None:
        return refused
    return serve(settings)
