"""The playground's HTTP surface: content types, caching, the CSP, public files under API keys,
`--no-playground`, and that the files reference nothing outside this server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.api.app import create_app
from server.api.routes_playground import ASSET_CACHE, load_playground
from server.playground import STATIC_DIR
from server.settings import Settings
from tests.reliability.support import assert_openai_error
from tests.support.scripted import ScriptedEngine

KEY = "sk-playground-test"


@pytest.fixture
def settings() -> dict[str, Any]:
    return {}


@pytest.fixture
async def client(settings: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(**settings), engine=ScriptedEngine([]))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


def asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(playground/[^"]+)"', page)


async def test_the_page_and_its_assets_have_types_caching_and_a_self_only_csp(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    # Nothing but this origin (and data:/blob: images) is allowed anywhere in the policy.
    sources = {s for d in csp.split(";") for s in d.split()[1:]}
    assert sources == {"'none'", "'self'", "data:", "blob:"}
    assert page.headers["x-content-type-options"] == "nosniff"
    urls = asset_urls(page.text)
    assert {u.rsplit("/", 1)[1] for u in urls} == {"style.css", "app.js"}
    build = load_playground().build
    assert all(u.startswith(f"playground/{build}/") for u in urls)
    types = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}
    for url in urls:
        asset = await client.get("/" + url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"] == types[url.rsplit(".", 1)[1]]
        assert asset.headers["cache-control"] == ASSET_CACHE
        assert asset.headers["content-security-policy"] == csp


async def test_an_unchanged_file_is_a_304(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    again = await client.get("/", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == page.headers["etag"]
    changed = await client.get("/", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == page.content


async def test_every_module_import_resolves_to_a_served_file(client: httpx.AsyncClient) -> None:
    build = load_playground().build
    pending, seen = ["app.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        response = await client.get(f"/playground/{build}/{name}")
        assert response.status_code == 200, name
        imports = re.findall(r'^import .* from "\./([\w.-]+)";$', response.text, re.M)
        pending += [i for i in imports if i not in seen]
    served = {p.name for p in STATIC_DIR.iterdir() if p.suffix == ".js"}
    assert seen == served, "every module is used, and every used module is shipped"


async def test_unknown_files_and_old_builds_are_openai_404s(client: httpx.AsyncClient) -> None:
    build = load_playground().build
    for path in (f"/playground/{build}/nope.js", "/playground/0123456789abcdef/app.js"):
        response = await client.get(path)
        assert response.status_code == 404
        assert_openai_error(response.json(), "not_found")


@pytest.mark.parametrize("settings", [{"playground": False}])
async def test_no_playground_makes_the_root_an_openai_404(client: httpx.AsyncClient) -> None:
    build = load_playground().build
    for path in ("/", f"/playground/{build}/app.js"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert_openai_error(response.json(), "not_found")


@pytest.mark.parametrize("settings", [{"api_keys": [KEY]}])
async def test_with_keys_the_page_is_public_and_the_api_is_not(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    for url in asset_urls(page.text):
        assert (await client.get("/" + url)).status_code == 200
    assert (await client.get("/v1/models")).status_code == 401
    authorised = await client.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert authorised.status_code == 200
    # The public prefix is not a way around the key: dot segments are not resolved by the
    # router, so they match no API route.
    sneaky = await client.get("/playground/x/..%2F..%2Fv1%2Fmodels")
    assert sneaky.status_code == 404
    assert (await client.get("/version")).status_code == 401


def test_the_files_reference_no_other_origin() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://|//[\w.-]+\.\w", text), f"{path.name} names a host"
        assert "@import" not in text and "url(" not in text, path.name
