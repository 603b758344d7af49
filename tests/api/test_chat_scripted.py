"""The HTTP surface on a scripted engine: shapes, streaming order, errors, metrics movement."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from typing import Any

import httpx
from PIL import Image

from server.api.app import create_app
from server.settings import Settings
from tests.api.conftest import SCRIPTED_MODEL, sse_payloads
from tests.support.live_server import serving
from tests.support.prometheus import metric
from tests.support.scripted import ScriptedEngine, Turnstile

UNFINISHED = "let me think about this problem step by step carefully " * 20
FINAL = "so it is five </think> The answer is 5. <answer>5</answer>"


def body(**extra: Any) -> dict[str, Any]:
    return {
        "model": SCRIPTED_MODEL,
        "messages": [{"role": "user", "content": "What is 2 + 3?"}],
        **extra,
    }


def png_data_url(size: tuple[int, int] = (32, 32)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def test_non_streaming_completion_has_answer_reasoning_and_vtc(make_client: Any) -> None:
    async with make_client([UNFINISHED, FINAL]) as (client, _):
        response = await client.post("/v1/chat/completions", json=body(vtc={"return_pages": True}))
    assert response.status_code == 200, response.text
    data = response.json()
    message = data["choices"][0]["message"]
    assert message["content"] == "The answer is 5. <answer>5</answer>"
    assert message["reasoning_content"] == message["reasoning"] == UNFINISHED + "so it is five "
    assert data["choices"][0]["finish_reason"] == "stop"
    vtc = data["vtc"]
    assert vtc["mode"] == "vtc" and vtc["rounds"] == 2 and vtc["finished"] is True
    assert vtc["pages"] >= 1 and vtc["pages"] == vtc["per_round"][0]["pages"]
    assert len(vtc["page_images"]) == vtc["pages"]
    assert vtc["page_images"][0].startswith("data:image/png;base64,")
    assert vtc["final_answer"] == "5"
    assert vtc["reasoning_tokens"] == vtc["per_round"][0]["generated_tokens"]
    assert vtc["compression_ratio"] == round(vtc["reasoning_tokens"] / vtc["vision_tokens"], 6)
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] == sum(r["generated_tokens"] for r in vtc["per_round"])
    assert response.headers["x-request-id"]


async def test_streaming_order_and_agreement_with_non_streaming(make_client: Any) -> None:
    async with make_client([UNFINISHED, FINAL, UNFINISHED, FINAL]) as (client, _):
        plain = (await client.post("/v1/chat/completions", json=body())).json()
        request = body(stream=True, stream_options={"include_usage": True})
        async with client.stream("POST", "/v1/chat/completions", json=request) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            payloads = [p async for p in sse_payloads(response)]
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    reasoning = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"]
    )
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    message = plain["choices"][0]["message"]
    assert reasoning == message["reasoning_content"] and content == message["content"]
    markers = [c["vtc"] for c in chunks if "vtc" in c and "per_round" not in c["vtc"]]
    assert [m["round"] for m in markers] == [1, 2]
    final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert final["choices"][0]["finish_reason"] == "stop"
    assert [r["round"] for r in final["vtc"]["per_round"]] == [1, 2]
    usage_chunk = chunks[-1]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"] == plain["usage"]
    # Reasoning, then each round's marker when it ends, then the answer, then the final chunk.
    marker_at = [i for i, c in enumerate(chunks) if "vtc" in c and "per_round" not in c["vtc"]]
    content_at = [
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    reasoning_at = [
        i
        for i, c in enumerate(chunks)
        if c["choices"] and c["choices"][0]["delta"].get("reasoning")
    ]
    assert max(reasoning_at) < marker_at[-1] < min(content_at) < chunks.index(final)


async def test_baseline_mode(make_client: Any) -> None:
    async with make_client([UNFINISHED + FINAL]) as (client, engine):
        data = (
            await client.post("/v1/chat/completions", json=body(vtc={"mode": "baseline"}))
        ).json()
    assert data["vtc"]["mode"] == "baseline" and data["vtc"]["rounds"] == 1
    assert data["vtc"]["compression_ratio"] is None and data["vtc"]["pages"] == 0
    defaults = Settings()
    assert engine.calls[0][1].max_tokens == defaults.max_rounds * defaults.round_max_tokens


async def test_request_values_reach_the_engine(make_client: Any) -> None:
    async with make_client([FINAL]) as (client, engine):
        response = await client.post(
            "/v1/chat/completions",
            json=body(temperature=0.0, top_p=0.5, seed=7, max_tokens=100, stop=["zzz"]),
        )
    assert response.status_code == 200
    params = engine.calls[0][1]
    assert (params.temperature, params.top_p, params.seed, params.stop) == (0.0, 0.5, 7, ("zzz",))
    assert params.max_tokens == 100


async def test_image_parts_are_passed_as_images(make_client: Any) -> None:
    content = [
        {"type": "text", "text": "What colour?"},
        {"type": "image_url", "image_url": {"url": png_data_url()}},
    ]
    request = {"model": SCRIPTED_MODEL, "messages": [{"role": "user", "content": content}]}
    async with make_client([FINAL]) as (client, engine):
        response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200
    images = engine.calls[0][0][-1].images
    assert len(images) == 1 and images[0].size == (32, 32)
    assert images[0].getpixel((0, 0)) == (0, 0, 255)


async def test_models_health_ready_version(make_client: Any) -> None:
    async with make_client([]) as (client, _):
        models = (await client.get("/v1/models")).json()
        assert [m["id"] for m in models["data"]] == [SCRIPTED_MODEL]
        card = models["data"][0]
        assert card["object"] == "model" and card["max_model_len"] == 1 << 20
        one = await client.get(f"/v1/models/{SCRIPTED_MODEL}")
        assert one.status_code == 200 and one.json() == card
        missing = await client.get("/v1/models/other")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/ready")).status_code == 200
        assert "version" in (await client.get("/version")).json()


async def test_metrics_move_by_the_expected_amounts(make_client: Any) -> None:
    async with make_client([UNFINISHED, UNFINISHED, FINAL]) as (client, _):
        before = (await client.get("/metrics")).text
        data = (await client.post("/v1/chat/completions", json=body())).json()
        after = (await client.get("/metrics")).text
    vtc = data["vtc"]

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    m = {"model": SCRIPTED_MODEL}
    assert moved("vtcr1_requests_total", **m, mode="vtc", status="ok") == 1
    assert moved("vtcr1_rendered_pages_total", **m) == vtc["pages"]
    assert moved("vtcr1_vision_tokens_total", **m) == vtc["vision_tokens"]
    assert moved("vtcr1_reasoning_tokens_total", **m) == vtc["reasoning_tokens"]
    assert moved("vtcr1_prompt_tokens_total", **m) == data["usage"]["prompt_tokens"]
    assert moved("vtcr1_generated_tokens_total", **m) == data["usage"]["completion_tokens"]
    assert moved("vtcr1_rounds_per_request_sum", **m, mode="vtc") == 3
    assert moved("vtcr1_round_latency_seconds_count", **m, mode="vtc") == 3
    assert moved("vtcr1_inter_round_gap_seconds_count", **m) == 2
    assert moved("vtcr1_compression_ratio_count", **m) == 1
    assert metric(after, "vtcr1_requests_in_flight", **m) == 0


async def test_stream_pages_sends_each_page_once_as_it_is_made(make_client: Any) -> None:
    long = UNFINISHED * 15  # ~2.5 pages a round
    async with make_client([long, long, FINAL], round_max_tokens=8192) as (client, _):
        request = body(stream=True, vtc={"stream_pages": True, "return_pages": True})
        async with client.stream("POST", "/v1/chat/completions", json=request) as response:
            assert response.status_code == 200
            chunks = [json.loads(p) for p in [p async for p in sse_payloads(response)][:-1]]
    page_at = [i for i, c in enumerate(chunks) if "page" in c.get("vtc", {})]
    pages = [chunks[i]["vtc"]["page"] for i in page_at]
    final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert len(pages) == final["vtc"]["pages"] >= 4
    assert [p["index"] for p in pages] == list(range(1, len(pages) + 1))
    assert all(chunks[i]["choices"] == [] for i in page_at)
    markers = [c["vtc"] for c in chunks if "round" in c.get("vtc", {}) and "page" not in c["vtc"]]
    for marker in markers:  # each round's pages: as many as its marker says, the same images
        mine = [p for p in pages if p["round"] == marker["round"]]
        assert len(mine) == marker["pages"]
        assert [p["url"] for p in mine] == marker["page_images"]
    for page in pages:
        assert page["kind"] == "reasoning"
        raw = base64.b64decode(page["url"].removeprefix("data:image/png;base64,"))
        with Image.open(io.BytesIO(raw)) as image:
            assert image.size == (page["width"], page["height"])
        assert page["vision_tokens"] > 0


async def test_a_page_goes_out_while_its_round_is_still_generating() -> None:
    """The engine is held after enough tokens for one page; that page must reach the client
    while the engine waits (its encoding runs in a thread, raced against the next token)."""
    gate = Turnstile()
    engine = ScriptedEngine([UNFINISHED * 15, FINAL], gate=gate)
    app = create_app(Settings(round_max_tokens=8192), engine=engine)
    gate.allow(len(UNFINISHED.split()) * 10)  # ~1.6 pages of text, short of the round (2.4)
    request = body(stream=True, vtc={"stream_pages": True})
    # A real server: httpx's ASGI transport would hand over the body only once it is complete.
    async with (
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as client,
        client.stream("POST", "/v1/chat/completions", json=request) as response,
    ):
        payloads = sse_payloads(response)
        async with asyncio.timeout(60):  # a deadline for a page that never comes
            async for payload in payloads:
                chunk = json.loads(payload)
                if "page" in chunk.get("vtc", {}):
                    break
        assert chunk["vtc"]["page"]["round"] == 1
        await gate.until_waiting()
        assert engine.running == {"chatcmpl-" + chunk["id"].removeprefix("chatcmpl-") + "-1"}
        gate.set()
        rest = [p async for p in payloads]
    assert rest[-1] == "[DONE]"


async def test_without_stream_pages_no_page_chunks(make_client: Any) -> None:
    async with (
        make_client([UNFINISHED, FINAL]) as (client, _),
        client.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response,
    ):
        chunks = [json.loads(p) for p in [p async for p in sse_payloads(response)][:-1]]
    assert not any("page" in c.get("vtc", {}) for c in chunks)
