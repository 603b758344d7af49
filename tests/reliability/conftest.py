"""`app_client`: an httpx client on an app built from settings and an engine, lifespan run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from server.api.app import create_app
from server.settings import Settings
from tests.support.scripted import RoundEngine

AppClient = Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def app_client() -> AppClient:
    """`async with app_client(engine=..., **settings) as client`."""

    def make(
        engine: Any = None, *, app_kwargs: dict[str, Any] | None = None, **settings: Any
    ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        app = create_app(
            Settings(**settings), engine=engine or RoundEngine(1), **(app_kwargs or {})
        )
        return running(app)

    return make
