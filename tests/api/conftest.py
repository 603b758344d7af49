"""Fixtures for API tests on a scripted engine (the real-engine API tests use tests/conftest.py's
session engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI

from server.api.app import create_app
from server.settings import Settings
from tests.support.scripted import ScriptedEngine

SCRIPTED_MODEL = "scripted"


def scripted_app(outputs: list[str], **settings: object) -> tuple[FastAPI, ScriptedEngine]:
    engine = ScriptedEngine(outputs)
    app = create_app(Settings(**settings), engine=engine)  # type: ignore[arg-type]
    return app, engine


@pytest.fixture
def make_client() -> Callable[..., object]:
    """`async with make_client(outputs, **settings) as (client, engine)`: an httpx client on
    the ASGI app (lifespan run), and the scripted engine behind it."""

    class _Ctx:
        def __init__(self, outputs: list[str], **settings: object) -> None:
            self.app, self.engine = scripted_app(outputs, **settings)

        async def __aenter__(self) -> tuple[httpx.AsyncClient, ScriptedEngine]:
            self._lifespan = self.app.router.lifespan_context(self.app)
            await self._lifespan.__aenter__()
            transport = httpx.ASGITransport(app=self.app)
            self.client = httpx.AsyncClient(transport=transport, base_url="http://test")
            return self.client, self.engine

        async def __aexit__(self, *exc: object) -> None:
            await self.client.aclose()
            await self._lifespan.__aexit__(None, None, None)

    return _Ctx


async def sse_payloads(response: httpx.Response) -> AsyncIterator[str]:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield line[len("data: ") :]
