"""The app factory. No state at import time: everything lives on the app, made by the lifespan.

The engine loads in the background so `/health` answers at once and `/ready` turns green when
the model is up (what an orchestrator wants during a slow model load).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from server import __version__
from server.api import routes_meta, routes_models, routes_playground, routes_tokenize
from server.api.auth import ApiKeyAuth, load_key_digests
from server.api.chat import route as chat_route
from server.api.cors import Cors
from server.api.errors import install_error_handlers
from server.api.middleware import RequestContext
from server.api.openapi import install_openapi
from server.api.protocol.chat import ChatCompletionChunk
from server.api.protocol.responses import ResponseStreamEvent
from server.api.responses import route as responses_route
from server.api.state import AppState, admission_for
from server.engines.base import Engine
from server.loop.sink import PageSinkFactory, default_page_sink, warm_up_renderer
from server.media.sources import ImageSources
from server.metrics import Metrics
from server.settings import Settings

log = logging.getLogger("vtcr1.app")
EngineFactory = Callable[[Settings], Awaitable[Engine]]


async def default_engine_factory(settings: Settings) -> Engine:
    from server.engines.factory import create_engine

    return await create_engine(settings)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    engine_factory: EngineFactory = default_engine_factory,
    page_sink: PageSinkFactory = default_page_sink,
    on_fatal: Callable[[], None] | None = None,
) -> FastAPI:
    """Build the gateway. With `engine` given (tests, embedding), it is used as is and not
    closed on shutdown; otherwise `engine_factory(settings)` makes one at start-up.
    `on_fatal` is called once if the engine dies (`vtcr1 serve` stops the server then, and
    exits 1); `page_sink` replaces the renderer (tests)."""
    settings = settings or Settings()
    key_digests = load_key_digests(settings)  # a missing key file fails here, at start-up
    app = FastAPI(
        title="VTC-R1 gateway",
        version=__version__,
        description="OpenAI-compatible chat completions with vision-text compressed reasoning.",
        lifespan=_lifespan(settings, engine, engine_factory, page_sink, on_fatal),
    )
    install_error_handlers(app)
    install_openapi(
        app,
        streamed={
            "ChatCompletionChunk": ChatCompletionChunk,
            "ResponseStreamEvent": ResponseStreamEvent,
        },
    )
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(routes_playground.router_for(settings))
    # Added last = outermost: the request id and body limit wrap the key check, and CORS wraps
    # everything (a browser's preflight carries no key; a 401 needs the CORS headers too).
    app.add_middleware(ApiKeyAuth, digests=key_digests, metrics_open=not settings.metrics_auth)
    app.add_middleware(
        RequestContext, max_body_bytes=settings.max_body_bytes, headers=_worker_header(settings)
    )
    app.add_middleware(Cors, settings=settings)
    return app


ROUTERS = (
    chat_route.router,
    responses_route.router,
    routes_meta.router,
    routes_models.router,
    routes_tokenize.router,
)


def _lifespan(
    settings: Settings,
    engine: Engine | None,
    engine_factory: EngineFactory,
    page_sink: PageSinkFactory,
    on_fatal: Callable[[], None] | None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Everything the app holds is made here, at start, and released at shutdown."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(
            settings=settings,
            metrics=Metrics(),
            admission=admission_for(settings),
            image_sources=ImageSources(settings),
            page_sink=page_sink,
            on_fatal=on_fatal,
        )
        app.state.vtc = state
        if settings.served_model_name:  # else the name is known once the engine is
            state.metrics.start_at_zero(settings.served_model_name)
        loader: asyncio.Task[None] | None = None
        if engine is not None:
            state.attach(engine)
        else:
            loader = asyncio.create_task(_load(state, engine_factory))
        try:
            yield
        finally:
            await _shut_down(state, loader)

    return lifespan


async def _shut_down(state: AppState, loader: asyncio.Task[None] | None) -> None:
    state.draining = True
    if state.watch is not None:
        await state.watch.aclose()
    await state.image_sources.aclose()
    if loader is not None:
        loader.cancel()
        await asyncio.gather(loader, return_exceptions=True)
        if state.engine is not None:
            await state.engine.aclose()


def _worker_header(settings: Settings) -> tuple[tuple[bytes, bytes], ...]:
    """With several workers, which one answered (its process id): for logs, debugging and the
    tests that need to know that every worker served."""
    if settings.workers <= 1:
        return ()
    return ((b"x-vtcr1-worker", str(os.getpid()).encode()),)


def start_draining(app: FastAPI) -> None:
    """SIGTERM: from now on `/ready` and new requests get 503 while streams in flight finish."""
    state: AppState | None = getattr(app.state, "vtc", None)
    if state is not None:
        state.draining = True


def exit_code(app: FastAPI) -> int:
    """1 if the engine died (so the orchestrator restarts the process), else 0."""
    state: AppState | None = getattr(app.state, "vtc", None)
    return 1 if state is not None and state.dead is not None else 0


async def _load(state: AppState, factory: EngineFactory) -> None:
    try:
        # Compile the renderer's kernels while the engine loads, not in the first request's
        # first inter-round gap.
        warm = asyncio.create_task(asyncio.to_thread(warm_up_renderer))
        engine = await factory(state.settings)
        await warm
        state.attach(engine)
        log.info("engine ready: %s", state.model_name)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        state.load_error = f"{type(exc).__name__}: {exc}"
        log.exception("engine failed to load")
