"""Input limits: image bytes, pixels and decompression bombs (413), image count, text length,
and the pages one round may render."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib

from PIL import Image

from tests.reliability.conftest import AppClient
from tests.reliability.support import assert_openai_error, chat
from tests.support.scripted import MODEL, RoundEngine


def data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def png(size: tuple[int, int], noise: bool = False) -> bytes:
    image = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, "white")
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A tiny file that claims to be width x height: only its header is valid."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def with_images(*urls: str, text: str = "what is this?") -> dict[str, object]:
    parts: list[dict[str, object]] = [{"type": "text", "text": text}]
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in urls]
    return {"model": MODEL, "messages": [{"role": "user", "content": parts}]}


async def test_image_bytes_pixels_and_bombs_are_413(app_client: AppClient) -> None:
    engine = RoundEngine(1)
    cases = [
        ({"max_image_bytes": 2000}, data_url(png((64, 64), noise=True)), "bytes"),
        ({"max_image_pixels": 100 * 100}, data_url(png((101, 100))), "pixels"),
        ({}, data_url(bomb_png(100_000, 100_000)), "header says 10^10 px"),
        # Our own bound set absurdly high: PIL's decompression-bomb guard still refuses it.
        ({"max_image_pixels": 10**12}, data_url(bomb_png(100_000, 100_000)), "PIL bomb guard"),
    ]
    for settings, url, why in cases:
        async with app_client(engine, **settings) as client:
            response = await client.post("/v1/chat/completions", json=with_images(url))
            assert response.status_code == 413, (why, response.text)
            error = assert_openai_error(response.json(), "payload_too_large")
            assert error["param"] == "messages.0.content.1.image_url.url", why
            assert (await client.get("/ready")).status_code == 200
    assert engine.calls == []


async def test_image_count_and_text_length(app_client: AppClient) -> None:
    engine = RoundEngine(1)
    small = data_url(png((8, 8)))
    async with app_client(engine, max_input_images=2, max_text_chars=100) as client:
        too_many = await client.post("/v1/chat/completions", json=with_images(small, small, small))
        too_long = await client.post("/v1/chat/completions", json=with_images(text="x" * 101))
        fine = await client.post("/v1/chat/completions", json=with_images(small, small))
    assert too_many.status_code == 400 and "too many images" in too_many.json()["error"]["message"]
    assert too_long.status_code == 400 and "too much text" in too_long.json()["error"]["message"]
    assert fine.status_code == 200
    assert len(engine.calls) == 1


async def test_pages_per_round_are_capped(app_client: AppClient) -> None:
    long_round = "a fairly long line of reasoning that fills the page " * 400
    pages = {}
    for cap in (1, 8):
        engine = RoundEngine(2, thinking=long_round)
        async with app_client(engine, max_pages_per_round=cap, round_max_tokens=8192) as client:
            response = await client.post("/v1/chat/completions", json=chat())
        assert response.status_code == 200
        pages[cap] = response.json()["vtc"]["per_round"][0]["pages"]
    assert pages[1] == 1 and pages[8] > 1
