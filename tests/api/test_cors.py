"""CORS with vLLM's flags and defaults (issue 12, point 6), and HEAD on the probes.

A browser app calls the API after a preflight: `OPTIONS` with `Origin` and
`Access-Control-Request-Method`, no API key. The preflight must get 200 with the CORS headers
(also when keys are configured), the real request the `Access-Control-Allow-Origin` header (also
on its 401, so the page can read it); an origin that is not allowed gets neither.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.api.app import create_app, start_draining
from server.settings import Settings
from tests.reliability.support import assert_openai_error, chat
from tests.support.live_server import serving
from tests.support.scripted import RoundEngine

APP_ORIGIN = "https://app.example"
KEY = "sk-cors-test"
URL = "/v1/chat/completions"


@contextlib.asynccontextmanager
async def client_for(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(**settings), engine=RoundEngine(1))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def preflight_headers(origin: str = APP_ORIGIN, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }


def test_flags_and_defaults_are_vllms() -> None:
    defaults = Settings()
    assert defaults.allowed_origins == []  # vLLM 0.32: cross-origin browser access off
    assert defaults.allowed_methods == ["*"] and defaults.allowed_headers == ["*"]
    assert defaults.allow_credentials is False
    # vLLM takes the lists as JSON; a comma list works too.
    parsed = Settings(
        _cli_parse_args=[
            "--allowed-origins",
            '["https://a.example", "https://b.example"]',
            "--allowed-methods",
            "GET,POST",
            "--allowed-headers",
            '["authorization"]',
            "--allow-credentials",
        ]
    )
    assert parsed.allowed_origins == ["https://a.example", "https://b.example"]
    assert parsed.allowed_methods == ["GET", "POST"]
    assert parsed.allowed_headers == ["authorization"]
    assert parsed.allow_credentials is True


def test_origins_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTCR1_ALLOWED_ORIGINS", '["https://env.example"]')
    assert Settings().allowed_origins == ["https://env.example"]


async def test_preflight_gets_200_with_the_cors_headers_even_with_api_keys() -> None:
    async with client_for(allowed_origins=[APP_ORIGIN], api_keys=[KEY]) as client:
        response = await client.options(URL, headers=preflight_headers())
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "access-control-allow-credentials" not in response.headers


async def test_real_requests_carry_the_origin_header_including_401s() -> None:
    async with client_for(allowed_origins=[APP_ORIGIN], api_keys=[KEY]) as client:
        origin = {"Origin": APP_ORIGIN}
        ok = await client.post(
            URL, json=chat(), headers={**origin, "Authorization": f"Bearer {KEY}"}
        )
        refused = await client.post(URL, json=chat(), headers=origin)
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == APP_ORIGIN
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP_ORIGIN
    assert_openai_error(refused.json(), "invalid_api_key")


async def test_any_origin_and_credentials() -> None:
    async with client_for(allowed_origins=["*"]) as client:
        anyone = await client.options("/v1/models", headers=preflight_headers("https://x.example"))
    async with client_for(allowed_origins=[APP_ORIGIN], allow_credentials=True) as client:
        with_credentials = await client.options(URL, headers=preflight_headers())
    assert anyone.status_code == 200
    assert anyone.headers["access-control-allow-origin"] == "*"
    assert with_credentials.status_code == 200
    assert with_credentials.headers["access-control-allow-credentials"] == "true"


async def test_by_default_cross_origin_access_is_off() -> None:
    async with client_for() as client:
        preflight = await client.options(URL, headers=preflight_headers())
        simple = await client.get("/v1/models", headers={"Origin": APP_ORIGIN})
    assert preflight.status_code == 400
    assert "origin" in str(assert_openai_error(preflight.json(), "cors_not_allowed")["message"])
    assert "access-control-allow-origin" not in preflight.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_a_method_outside_allowed_methods_is_refused() -> None:
    async with client_for(allowed_origins=[APP_ORIGIN], allowed_methods=["GET"]) as client:
        response = await client.options(URL, headers=preflight_headers(method="POST"))
    assert response.status_code == 400
    assert "method" in str(assert_openai_error(response.json(), "cors_not_allowed")["message"])


async def test_head_on_the_probes_over_real_http() -> None:
    app = create_app(Settings(), engine=RoundEngine(1))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as client:
        for path in ("/health", "/ready"):
            get = await client.get(path)
            head = await client.head(path)
            assert (get.status_code, head.status_code) == (200, 200), path
            assert head.content == b""
            assert head.headers["content-length"] == get.headers["content-length"]
        start_draining(app)
        assert (await client.head("/ready")).status_code == 503
        assert (await client.head("/health")).status_code == 200
