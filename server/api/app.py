"""The app factory. No state at import time: everything lives on the app, made by the lifespan.

The engine loads in the background so `/health` answers at once and `/ready` turns green when
the model is up (what an orchestrator wants during a slow model load).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import FastAPI

from server import __version__
from server.api import routes_chat, routes_meta
from server.api.errors import install_error_handlers
from server.api.middleware import RequestContext
from server.api.state import AppState
from server.engines.base import Engine
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
) -> FastAPI:
    """Build the gateway. With `engine` given (tests, embedding), it is used as is and not
    closed on shutdown; otherwise `engine_factory(settings)` makes one at start-up."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = AppState(settings=settings, metrics=Metrics())
        app.state.vtc = state
        loader: asyncio.Task[None] | None = None
        if engine is not None:
            state.attach(engine)
        else:
            loader = asyncio.create_task(_load(state, engine_factory))
        try:
            yield
        finally:
            state.draining = True
            if loader is not None:
                loader.cancel()
                await asyncio.gather(loader, return_exceptions=True)
                if state.engine is not None:
                    await state.engine.aclose()

    app = FastAPI(
        title="VTC-R1 gateway",
        version=__version__,
        description="OpenAI-compatible chat completions with vision-text compressed reasoning.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(routes_chat.router)
    app.include_router(routes_meta.router)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    return app


async def _load(state: AppState, factory: EngineFactory) -> None:
    try:
        state.attach(await factory(state.settings))
        log.info("engine ready: %s", state.model_name)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        state.load_error = f"{type(exc).__name__}: {exc}"
        log.exception("engine failed to load")
