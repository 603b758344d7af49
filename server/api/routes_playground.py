"""`GET /`: the browser playground (static files from `server/playground/static`).

The page is public (it holds nothing secret; the API calls it makes carry the key the user
enters). Caching: asset URLs carry a hash of all the files' contents
(`playground/<build>/app.js`), so assets are cached for a year as `immutable` and a browser can
never mix a cached old module with a new page; the page itself is revalidated on every load
(`no-cache` + ETag, a 304 when unchanged). URLs are relative, so the page also works behind a
proxy that mounts the server under a path prefix. The Content-Security-Policy allows this origin
only (plus `data:`/`blob:` images: the pages stream as data URLs): the page cannot load anything
from elsewhere, which is also the proof that it works air-gapped.

The files are read once, when the app is built; `--no-playground` builds no route at all, so `/`
is the API's ordinary 404.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from server.errors import NotFound
from server.playground import STATIC_DIR
from server.settings import Settings

INDEX = "index.html"
ASSETS_MARK = b"%ASSETS%"
CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_CACHE = "no-cache"
ASSET_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str
    cache_control: str

    def response(self, request: Request) -> Response:
        headers = {**SECURITY_HEADERS, "ETag": self.etag, "Cache-Control": self.cache_control}
        if self.etag in _if_none_match(request):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def _if_none_match(request: Request) -> set[str]:
    value = request.headers.get("if-none-match", "")
    return {tag.strip().removeprefix("W/") for tag in value.split(",") if tag.strip()}


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class Playground:
    build: str
    page: StaticFile
    assets: dict[str, StaticFile]


def load_playground(directory: Path = STATIC_DIR) -> Playground:
    """Read the files; the build id is a hash of every file's name and bytes."""
    files = {
        p.name: p.read_bytes()
        for p in sorted(directory.iterdir())
        if p.is_file() and p.suffix in MEDIA_TYPES
    }
    if INDEX not in files:
        raise FileNotFoundError(f"the playground has no {INDEX} in {directory}")
    digest = hashlib.sha256()
    for name, body in files.items():
        digest.update(name.encode() + b"\0" + body + b"\0")
    build = digest.hexdigest()[:16]
    page_body = files.pop(INDEX).replace(ASSETS_MARK, f"playground/{build}".encode())
    page = StaticFile(page_body, MEDIA_TYPES[".html"], _etag(page_body), PAGE_CACHE)
    assets = {
        name: StaticFile(body, MEDIA_TYPES[Path(name).suffix], _etag(body), ASSET_CACHE)
        for name, body in files.items()
    }
    return Playground(build, page, assets)


def router_for(settings: Settings) -> APIRouter:
    """The playground's routes, or none with `--no-playground`."""
    router = APIRouter(include_in_schema=False)
    if not settings.playground:
        return router
    playground = load_playground()

    @router.api_route("/", methods=["GET", "HEAD"])
    async def page(request: Request) -> Response:
        return playground.page.response(request)

    @router.api_route("/playground/{build}/{name}", methods=["GET", "HEAD"])
    async def asset(request: Request, build: str, name: str) -> Response:
        found = playground.assets.get(name) if build == playground.build else None
        if found is None:
            raise NotFound(f"no playground file {build}/{name}")
        return found.response(request)

    return router
