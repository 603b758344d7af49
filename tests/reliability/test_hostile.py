"""Malformed and hostile requests, each refused with the right 4xx in OpenAI's error shape,
before any engine work, with the server staying ready. (tests/api/test_errors.py has the
ordinary bad-input battery; these are the nastier ones.)"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.reliability.conftest import AppClient
from tests.reliability.support import assert_openai_error
from tests.support.scripted import MODEL, RoundEngine

USER = '[{"role": "user", "content": "hi"}]'


def raw(extra: str = "", *, model: str = f'"{MODEL}"', messages: str = USER) -> bytes:
    """A body written by hand, so it can hold what `json.dumps` would never produce."""
    return ("{" + f'"model": {model}, "messages": {messages}' + extra + "}").encode()


def body(**fields: Any) -> bytes:
    return json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **fields}
    ).encode()


def image(url: str) -> bytes:
    part = {"type": "image_url", "image_url": {"url": url}}
    return json.dumps({"model": MODEL, "messages": [{"role": "user", "content": [part]}]}).encode()


SVG = (
    "data:image/svg+xml;base64,"
    + base64.b64encode(
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        b"<svg xmlns='http://www.w3.org/2000/svg'>&e;</svg>"
    ).decode()
)
JSON = {"content-type": "application/json"}

# (name, body, headers, status, code, param)
CASES: list[tuple[str, bytes, dict[str, str], int, str | None, str | None]] = [
    ("NaN", raw(', "temperature": NaN'), JSON, 400, "invalid_json", None),
    ("Infinity", raw(', "max_tokens": Infinity'), JSON, 400, "invalid_json", None),
    ("-Infinity in unknown field", raw(', "x": -Infinity'), JSON, 400, "invalid_json", None),
    ("1e400 overflows to inf", raw(', "temperature": 1e400'), JSON, 400, None, "temperature"),
    ("5000-digit integer", raw(', "max_tokens": ' + "9" * 5000), JSON, 400, "invalid_json", None),
    ("400-digit max_tokens", raw(', "max_tokens": ' + "9" * 400), JSON, 400, None, "max_tokens"),
    ("seed beyond 64 bits", body(seed=2**70), JSON, 400, None, "seed"),
    ("100k-deep array", raw(', "x": ' + "[" * 100_000 + "]" * 100_000), JSON, 400, None, None),
    ("100-deep objects", raw(', "x": ' + '{"a":' * 100 + "1" + "}" * 100), JSON, 400, None, None),
    (
        "lone surrogate",
        raw(messages='[{"role": "user", "content": "\\ud800"}]'),
        JSON,
        400,
        "invalid_json",
        None,
    ),
    ("surrogate in a key", raw(', "\\udfff": 1'), JSON, 400, "invalid_json", None),
    ("raw NUL byte", raw(", \x00"), JSON, 400, "invalid_json", None),
    (
        "invalid UTF-8",
        raw(', "x": "\xff"').replace(b"\xc3\xbf", b"\xff"),
        JSON,
        400,
        "invalid_json",
        None,
    ),
    ("NUL in model name", raw(model='"scripted\\u0000"'), JSON, 404, "model_not_found", "model"),
    ("unicode model name", body(model="модель-😀"), JSON, 404, "model_not_found", "model"),
    ("model number", body(model=3), JSON, 400, None, "model"),
    ("model null", body(model=None), JSON, 400, None, "model"),
    ("text/plain", body(), {"content-type": "text/plain"}, 415, "unsupported_media_type", None),
    (
        "form encoded",
        b"model=scripted",
        {"content-type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
        None,
    ),
    ("multipart", body(), {"content-type": "multipart/form-data; boundary=x"}, 415, None, None),
    ("empty body", b"", JSON, 400, "invalid_json", None),
    ("whitespace body", b" \n\t ", JSON, 400, "invalid_json", None),
    ("array body", b"[]", JSON, 400, None, None),
    ("string body", b'"hello"', JSON, 400, None, None),
    ("null body", b"null", JSON, 400, None, None),
    ("single quotes", b"{'model': 'scripted'}", JSON, 400, "invalid_json", None),
    ("trailing garbage", body() + b" trailing", JSON, 400, "invalid_json", None),
    (
        "messages object",
        body(messages={"role": "user", "content": "hi"}),
        JSON,
        400,
        None,
        "messages",
    ),
    (
        "capitalised role",
        body(messages=[{"role": "User", "content": "hi"}]),
        JSON,
        400,
        None,
        "messages.0.role",
    ),
    (
        "function role",
        body(messages=[{"role": "function", "content": "x", "name": "f"}]),
        JSON,
        400,
        None,
        "messages.0.role",
    ),
    ("max_tokens true", body(max_tokens=True), JSON, 400, None, "max_tokens"),
    ("temperature negative", body(temperature=-0.1), JSON, 400, None, "temperature"),
    ("top_p negative", body(top_p=-0.5), JSON, 400, None, "top_p"),
    ("n zero", body(n=0), JSON, 400, None, "n"),
    ("stop not strings", body(stop=[1, 2]), JSON, 400, None, None),
    (
        "stream_options without stream",
        body(stream_options={"include_usage": True}),
        JSON,
        400,
        None,
        "stream_options",
    ),
    ("max_tokens above the cap", body(max_tokens=10_000), JSON, 400, None, "max_tokens"),
    (
        "max_completion_tokens above the cap",
        body(max_completion_tokens=10_000),
        JSON,
        400,
        None,
        "max_completion_tokens",
    ),
    (
        "vtc.max_rounds above the cap",
        body(vtc={"max_rounds": 8}),
        JSON,
        400,
        None,
        "vtc.max_rounds",
    ),
    (
        "vtc.round_max_tokens above the cap",
        body(vtc={"round_max_tokens": 4096}),
        JSON,
        400,
        None,
        "vtc.round_max_tokens",
    ),
    (
        "too many messages",
        body(messages=[{"role": "user", "content": "x"}] * 11),
        JSON,
        400,
        None,
        "messages",
    ),
    ("image url a number", image(5), JSON, 400, None, None),  # type: ignore[arg-type]
    ("javascript: image", image("javascript:alert(1)"), JSON, 400, "invalid_image_url", None),
    (
        "gopher: image",
        image("gopher://127.0.0.1:6379/_FLUSHALL"),
        JSON,
        400,
        "invalid_image_url",
        None,
    ),
    ("ftp: image", image("ftp://example.com/a.png"), JSON, 400, "invalid_image_url", None),
    ("svg with an XXE", image(SVG), JSON, 400, "invalid_image", None),
    ("data: URL not base64", image("data:image/png,%89PNG"), JSON, 400, "invalid_image_url", None),
]

LIMITS = {
    "max_tokens_limit": 5000,
    "max_rounds_limit": 4,
    "round_max_tokens_limit": 1000,
    "max_messages": 10,
}


@pytest.mark.parametrize(
    ("name", "payload", "headers", "status", "code", "param"), CASES, ids=[c[0] for c in CASES]
)
async def test_hostile_request(
    app_client: AppClient,
    name: str,
    payload: bytes,
    headers: dict[str, str],
    status: int,
    code: str | None,
    param: str | None,
) -> None:
    engine = RoundEngine(1)
    async with app_client(engine, **LIMITS) as client:
        response = await client.post("/v1/chat/completions", content=payload, headers=headers)
        assert response.status_code == status, response.text
        error = assert_openai_error(response.json(), code)
        if param is not None:
            assert error["param"] == param
        assert len(str(error["message"])) < 400  # nothing hostile echoed back at length
        assert engine.calls == []
        assert (await client.get("/ready")).status_code == 200
        ok = await client.post("/v1/chat/completions", content=body(), headers=JSON)
        assert ok.status_code == 200


async def test_a_long_model_name_is_not_echoed_in_full(app_client: AppClient) -> None:
    async with app_client() as client:
        response = await client.post("/v1/chat/completions", content=body(model="m" * 100_000))
    assert response.status_code == 404
    assert len(response.json()["error"]["message"]) < 200


async def test_nul_inside_text_is_ordinary_text(app_client: AppClient) -> None:
    """A NUL character (the JSON escape) in a message is text like any other: accepted."""
    async with app_client() as client:
        payload = raw(messages='[{"role": "user", "content": "a\\u0000b"}]')
        response = await client.post("/v1/chat/completions", content=payload)
    assert response.status_code == 200


async def test_top_p_zero_means_greedy(app_client: AppClient) -> None:
    engine = RoundEngine(1)
    calls: list[tuple[float, float]] = []
    original = engine.generate

    def spy(messages: Any, params: Any, request_id: str, session_id: str | None = None) -> Any:
        calls.append((params.temperature, params.top_p))
        return original(messages, params, request_id, session_id)

    engine.generate = spy  # type: ignore[method-assign]
    async with app_client(engine) as client:
        response = await client.post("/v1/chat/completions", content=body(top_p=0, temperature=1))
    assert response.status_code == 200
    assert calls == [(0.0, 1.0)]


async def test_chunked_body_over_the_limit_is_413(app_client: AppClient) -> None:
    """Without a Content-Length the limit is enforced while reading."""

    async def chunks() -> Any:
        yield b'{"model": "scripted", "messages": [{"role": "user", "content": "'
        for _ in range(8):
            yield b"x" * 1024
        yield b'"}]}'

    async with app_client(max_body_bytes=4096) as client:
        response = await client.post("/v1/chat/completions", content=chunks())
        assert response.status_code == 413
        assert_openai_error(response.json(), "payload_too_large")
        assert (await client.get("/ready")).status_code == 200
