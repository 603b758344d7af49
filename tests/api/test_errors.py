"""Every documented error path: status, OpenAI error shape, and the offending `param`."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from tests.api.conftest import SCRIPTED_MODEL

Q = [{"role": "user", "content": "hi"}]


def png(size: tuple[int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def with_image(url: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]


def req(**fields: Any) -> dict[str, Any]:
    return {"model": SCRIPTED_MODEL, "messages": Q, **fields}


CASES: list[tuple[str, Any, int, str | None]] = [
    ("no model", {"messages": Q}, 400, "model"),
    ("unknown model", {"model": "gpt-9", "messages": Q}, 404, "model"),
    ("no messages", {"model": SCRIPTED_MODEL}, 400, "messages"),
    ("empty messages", req(messages=[]), 400, "messages"),
    ("messages not a list", req(messages="hi"), 400, "messages"),
    ("tool role", req(messages=[{"role": "tool", "content": "x"}]), 400, "messages.0.role"),
    ("bad role", req(messages=[{"role": "wizard", "content": "x"}]), 400, "messages.0.role"),
    ("last not user", req(messages=[*Q, {"role": "assistant", "content": "a"}]), 400, None),
    ("user without content", req(messages=[{"role": "user"}]), 400, "messages.0.content"),
    ("content number", req(messages=[{"role": "user", "content": 5}]), 400, None),
    ("bad part type", req(messages=[{"role": "user", "content": [{"type": "audio"}]}]), 400, None),
    ("stream as string", req(stream="true"), 400, "stream"),
    ("temperature as string", req(temperature="0.5"), 400, "temperature"),
    ("temperature too high", req(temperature=2.5), 400, "temperature"),
    ("top_p too high", req(top_p=1.5), 400, "top_p"),
    ("max_tokens zero", req(max_tokens=0), 400, "max_tokens"),
    ("max_tokens float", req(max_tokens=1.5), 400, "max_tokens"),
    ("n > 1", req(n=2), 400, "n"),
    ("tools", req(tools=[{"type": "function", "function": {"name": "f"}}]), 400, "tools"),
    ("json mode", req(response_format={"type": "json_object"}), 400, "response_format"),
    ("logprobs", req(logprobs=True), 400, "logprobs"),
    ("penalty", req(presence_penalty=1.0), 400, "presence_penalty"),
    ("too many stops", req(stop=["a", "b", "c", "d", "e"]), 400, "stop"),
    ("vtc unknown mode", req(vtc={"mode": "turbo"}), 400, "vtc.mode"),
    ("vtc unknown field", req(vtc={"pages": 3}), 400, "vtc.pages"),
    ("vtc max_rounds 0", req(vtc={"max_rounds": 0}), 400, "vtc.max_rounds"),
    ("vtc return_pages string", req(vtc={"return_pages": "yes"}), 400, "vtc.return_pages"),
    ("http image url", req(messages=with_image("http://example.com/a.png")), 400, None),
    ("file image url", req(messages=with_image("file:///etc/passwd")), 400, None),
    ("bad base64", req(messages=with_image("data:image/png;base64,@@@")), 400, None),
    ("not an image", req(messages=with_image("data:image/png;base64,aGVsbG8=")), 400, None),
    ("image too many pixels", req(messages=with_image(png((5000, 5000)))), 413, None),
    (
        "image in assistant turn",
        req(
            messages=[
                {
                    "role": "assistant",
                    "content": [{"type": "image_url", "image_url": {"url": png((8, 8))}}],
                },
                *Q,
            ]
        ),
        400,
        None,
    ),
]


@pytest.mark.parametrize(("name", "payload", "status", "param"), CASES, ids=[c[0] for c in CASES])
async def test_bad_request(
    make_client: Any, name: str, payload: Any, status: int, param: str | None
) -> None:
    async with make_client([], max_image_pixels=4096 * 4096) as (client, engine):
        response = await client.post("/v1/chat/completions", json=payload)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["message"] and error["type"]
        if param is not None:
            assert error["param"] == param
        assert engine.calls == []  # refused before any engine work
        assert (await client.get("/ready")).status_code == 200


async def test_invalid_json(make_client: Any) -> None:
    async with make_client([]) as (client, _):
        response = await client.post(
            "/v1/chat/completions",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_body_too_large_is_413_before_reading(make_client: Any) -> None:
    async with make_client([], max_body_bytes=2048) as (client, _):
        response = await client.post("/v1/chat/completions", content=b"x" * 4096)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_unknown_route_and_wrong_method(make_client: Any) -> None:
    async with make_client([]) as (client, _):
        missing = await client.get("/v1/nothing")
        wrong = await client.get("/v1/chat/completions")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405 and wrong.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_fields_are_ignored(make_client: Any) -> None:
    async with make_client(["</think> <answer>1</answer>"]) as (client, _):
        response = await client.post("/v1/chat/completions", json=req(some_new_field={"a": 1}))
    assert response.status_code == 200


async def test_engine_still_loading_is_503_with_retry_after() -> None:
    import asyncio

    import httpx

    from server.api.app import create_app
    from server.engines.base import Engine
    from server.settings import Settings

    never = asyncio.Event()

    async def slow_factory(_: Settings) -> Engine:
        await never.wait()
        raise AssertionError("unreachable")

    app = create_app(Settings(), engine_factory=slow_factory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            ready = await client.get("/ready")
            chat = await client.post("/v1/chat/completions", json=req(model="vtcr1-tiny"))
            health = await client.get("/health")
    assert ready.status_code == 503 and ready.headers["retry-after"] == "5"
    assert chat.status_code == 503 and chat.json()["error"]["code"] == "engine_unavailable"
    assert health.status_code == 200
