"""Image inputs beyond data: URLs: allow-listed remote hosts (public addresses only, checked
after DNS and connected to by the checked IP, no redirects, size and time limits) and `file:`
URLs inside the media directory only."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from PIL import Image

from server.errors import InvalidRequest, PayloadTooLarge
from server.media.addresses import refusal
from server.media.remote import RemoteFetcher, host_allowed
from tests.reliability.conftest import AppClient
from tests.reliability.support import assert_openai_error
from tests.support.live_server import serving
from tests.support.scripted import MODEL, RoundEngine


def png_bytes(size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return buffer.getvalue()


def ask(url: str) -> dict[str, object]:
    part = {"type": "image_url", "image_url": {"url": url}}
    return {"model": MODEL, "messages": [{"role": "user", "content": [part]}]}


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fd00:ec2::254",
        "100.100.100.200",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "255.255.255.255",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::7f00:1",
    ],
)
def test_internal_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_host_allow_list() -> None:
    allowed = ["images.example.com", "*.cdn.example.org"]
    assert host_allowed("IMAGES.example.com.", allowed)
    assert host_allowed("a.b.cdn.example.org", allowed)
    assert not host_allowed("cdn.example.org", allowed)  # the wildcard is for subdomains
    assert not host_allowed("evilcdn.example.org", allowed)
    assert not host_allowed("images.example.com.evil.net", allowed)
    assert not host_allowed("example.com", allowed)


def fetcher(answers: list[str], calls: list[str], **kwargs: object) -> RemoteFetcher:
    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers

    options: dict[str, object] = {"max_bytes": 1 << 20, "timeout_s": 5.0, **kwargs}
    return RemoteFetcher(hosts=["images.example.com"], resolver=resolver, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answers", [["10.0.0.5"], ["93.184.216.34", "127.0.0.1"], ["169.254.169.254"], []]
)
async def test_allow_listed_name_resolving_inward_is_refused(answers: list[str]) -> None:
    calls: list[str] = []
    remote = fetcher(answers, calls)
    with pytest.raises(InvalidRequest) as refused:
        await remote.fetch("https://images.example.com/cat.png", param="p")
    assert calls == ["images.example.com"] and refused.value.code == "invalid_image_url"


@pytest.mark.parametrize(
    "url",
    [
        "https://other.example.com/cat.png",
        "https://images.example.com@10.0.0.1/cat.png",
        "https://user:pw@images.example.com/cat.png",
        "http://[::1]/cat.png",
        "http://2130706433/cat.png",  # 127.0.0.1 as one decimal number
    ],
)
async def test_hosts_off_the_list_are_refused_before_any_lookup(url: str) -> None:
    calls: list[str] = []
    with pytest.raises(InvalidRequest):
        await fetcher(["93.184.216.34"], calls).fetch(url, param="p")
    assert calls == []


class Origin:
    """A loopback image server: /cat.png, a redirect, oversize bodies, a slow one, a 404."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.release = asyncio.Event()
        app = FastAPI()

        @app.get("/cat.png")
        async def cat(request: Request) -> Response:
            self.hosts.append(request.headers["host"])
            return Response(png_bytes(), media_type="image/png")

        @app.get("/redirect")
        async def redirect() -> Response:
            return RedirectResponse("http://169.254.169.254/latest/meta-data/")

        @app.get("/big-declared")
        async def big_declared() -> Response:
            return Response(b"\0" * 5000, media_type="image/png")

        @app.get("/big-chunked")
        async def big_chunked() -> StreamingResponse:
            async def body() -> AsyncIterator[bytes]:
                for _ in range(5):
                    yield b"\0" * 1000

            return StreamingResponse(body(), media_type="image/png")

        @app.get("/slow")
        async def slow() -> Response:
            await self.release.wait()
            return Response(png_bytes(), media_type="image/png")

        self.app = app


async def test_fetching_from_an_allowed_host() -> None:
    """Loopback is reachable only through the test-only flag; the name is resolved once and the
    connection goes to the checked address with the original Host header."""
    origin = Origin()
    async with serving(origin.app) as base:
        port = base.rsplit(":", 1)[1]
        calls: list[str] = []
        remote = fetcher(["127.0.0.1"], calls, allow_loopback=True, max_bytes=2000)
        try:
            url = f"http://images.example.com:{port}"
            data = await remote.fetch(f"{url}/cat.png", param="p")
            assert Image.open(io.BytesIO(data)).size == (24, 16)
            assert origin.hosts == [f"images.example.com:{port}"] and len(calls) == 1
            for path, error in [
                ("/redirect", InvalidRequest),
                ("/big-declared", PayloadTooLarge),
                ("/big-chunked", PayloadTooLarge),
                ("/missing.png", InvalidRequest),
            ]:
                with pytest.raises(error):
                    await remote.fetch(url + path, param="p")
            remote.timeout_s = 0.3
            with pytest.raises(InvalidRequest, match="longer than"):
                await remote.fetch(url + "/slow", param="p")
        finally:
            origin.release.set()
            await remote.aclose()


async def test_remote_images_through_the_api(app_client: AppClient) -> None:
    origin = Origin()
    engine = RoundEngine(1)
    async with serving(origin.app) as base:
        port = base.rsplit(":", 1)[1]
        settings = {
            "allow_remote_images": True,
            "remote_image_hosts": ["127.0.0.1", "localhost"],
        }
        # Loopback is refused even when allow-listed ...
        async with app_client(engine, **settings) as client:
            for host in ("127.0.0.1", "localhost"):
                response = await client.post(
                    "/v1/chat/completions", json=ask(f"http://{host}:{port}/cat.png")
                )
                assert response.status_code == 400, response.text
                error = assert_openai_error(response.json(), "invalid_image_url")
                assert "loopback" in str(error["message"])
        # ... unless the test-only flag says otherwise.
        async with app_client(engine, unsafe_allow_loopback_images=True, **settings) as client:
            good = await client.post(
                "/v1/chat/completions", json=ask(f"http://127.0.0.1:{port}/cat.png")
            )
            redirect = await client.post(
                "/v1/chat/completions", json=ask(f"http://127.0.0.1:{port}/redirect")
            )
        origin.release.set()
    assert good.status_code == 200, good.text
    assert engine.calls and len(origin.hosts) == 1
    assert redirect.status_code == 400
    assert_openai_error(redirect.json(), "image_fetch_failed")


async def test_remote_images_are_off_by_default(app_client: AppClient) -> None:
    async with app_client(remote_image_hosts=["127.0.0.1"]) as client:
        response = await client.post("/v1/chat/completions", json=ask("http://127.0.0.1/a.png"))
    assert response.status_code == 400
    assert "not enabled" in response.json()["error"]["message"]


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "good.png").write_bytes(png_bytes((10, 12)))
    (tmp_path / "secret.png").write_bytes(png_bytes())
    (root / "escape.png").symlink_to(tmp_path / "secret.png")
    (root / "inside-link.png").symlink_to(root / "sub" / "good.png")
    os.mkfifo(root / "fifo.png")
    return root


async def test_media_dir(app_client: AppClient, media: Path) -> None:
    engine = RoundEngine(1)
    refused = {
        "traversal": f"file://{media}/../secret.png",
        "encoded traversal": f"file://{media}/sub/%2e%2e/%2e%2e/secret.png",
        "outside": "file:///etc/passwd",
        "symlink out": f"file://{media}/escape.png",
        "NUL": f"file://{media}/sub/good.png%00.txt",
        "remote host": f"file://example.com{media}/sub/good.png",
        "relative": "file:sub/good.png",
        "a directory": f"file://{media}/sub",
        "a FIFO": f"file://{media}/fifo.png",
        "missing": f"file://{media}/nope.png",
    }
    async with app_client(engine, media_dir=media) as client:
        for why, url in refused.items():
            response = await client.post("/v1/chat/completions", json=ask(url))
            assert response.status_code == 400, (why, response.text)
            assert_openai_error(response.json(), "invalid_image_url")
        assert engine.calls == []
        for url in (f"file://{media}/sub/good.png", f"file://{media}/inside-link.png"):
            response = await client.post("/v1/chat/completions", json=ask(url))
            assert response.status_code == 200, response.text
    assert len(engine.calls) == 2


async def test_file_urls_are_off_without_a_media_dir(app_client: AppClient, media: Path) -> None:
    async with app_client() as client:
        response = await client.post(
            "/v1/chat/completions", json=ask(f"file://{media}/sub/good.png")
        )
    assert response.status_code == 400
    assert "not enabled" in response.json()["error"]["message"]
