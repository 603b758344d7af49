"""The gateway on the real in-process vLLM engine (tiny model), through real HTTP and the
official `openai` SDK, sync and async, plain and streaming; and in remote mode against a real
`vllm serve`."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from PIL import Image

from server.api.app import create_app
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.conftest import SERVED_NAME
from tests.support.live_server import serving
from tests.support.prometheus import metric
from tests.support.vllm_process import VllmServer

pytestmark = pytest.mark.engine

QUESTION = "Compute 17 * 23 and explain."
VTC = {"max_rounds": 3, "round_max_tokens": 96}


@pytest.fixture
async def gateway(vllm_engine: VllmLocalEngine) -> AsyncIterator[str]:
    app = create_app(Settings(served_model_name=SERVED_NAME), engine=vllm_engine)
    async with serving(app) as url:
        yield url


def vtc_of(obj: Any) -> dict[str, Any]:
    extra = obj.model_extra or {}
    vtc = extra.get("vtc")
    assert isinstance(vtc, dict), f"no vtc object in {extra.keys()}"
    return vtc


async def wait_until(condition: Any, timeout_s: float = 30.0) -> None:
    """Poll an engine-side condition with a deadline (the engine finishes aborts on its own
    loop; there is no event to wait on)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_async_sdk_plain_runs_the_rounds_and_accounts_exactly(
    gateway: str, vllm_engine: VllmLocalEngine
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key="unused")
    response = await client.chat.completions.create(
        model=SERVED_NAME,
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0.0,
        # Rounds long enough for a page bigger than a KV block, so prefix caching shows.
        extra_body={"vtc": {**VTC, "round_max_tokens": 600, "return_pages": True}},
    )
    vtc = vtc_of(response)
    message_extra = response.choices[0].message.model_extra or {}
    assert vtc["rounds"] == 3 and vtc["finished"] is False  # a random model never answers
    assert response.choices[0].finish_reason == "length"
    rounds = vtc["per_round"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert rounds[0]["pages"] >= 1 and rounds[1]["pages"] >= 1 and rounds[2]["pages"] == 0
    assert len(vtc["page_images"]) == vtc["pages"] == rounds[0]["pages"] + rounds[1]["pages"]
    # Prompt tokens grow by exactly the new pages' vision tokens plus their image markers.
    overhead = int(vllm_engine.info.extra["image_overhead_tokens"])  # type: ignore[call-overload]
    for before, after in itertools.pairwise(rounds):
        assert after["prompt_tokens"] - before["prompt_tokens"] == (
            before["vision_tokens"] + overhead * before["pages"]
        )
    # Round 3 re-sends round 1's pages byte-identical right after the system prompt: the
    # prefix cache covers them (up to the last whole KV block, at most 128 tokens on CPU).
    assert rounds[2]["cached_tokens"] >= rounds[0]["vision_tokens"] - 128 > 0
    assert vtc["reasoning_tokens"] == rounds[0]["generated_tokens"] + rounds[1]["generated_tokens"]
    assert vtc["compression_ratio"] == pytest.approx(
        vtc["reasoning_tokens"] / vtc["vision_tokens"], rel=1e-5
    )
    reasoning = message_extra["reasoning_content"]
    assert isinstance(reasoning, str) and reasoning == message_extra["reasoning"]
    assert response.usage is not None
    assert response.usage.completion_tokens == sum(r["generated_tokens"] for r in rounds)
    assert response.usage.prompt_tokens == sum(r["prompt_tokens"] for r in rounds)
    page = Image.open(io.BytesIO(base64.b64decode(vtc["page_images"][0].split(",", 1)[1])))
    assert page.width <= 595 and page.height <= 842
    await client.close()


async def test_streamed_and_plain_results_of_a_seeded_request_agree(gateway: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key="unused")
    common: dict[str, Any] = {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": QUESTION}],
        "temperature": 0.6,
        "seed": 1234,
        "extra_body": {"vtc": VTC},
    }
    plain = await client.chat.completions.create(**common)
    stream = await client.chat.completions.create(
        **common, stream=True, stream_options={"include_usage": True}
    )
    reasoning, content, markers = "", "", []
    final_vtc: dict[str, Any] | None = None
    usage = None
    async for chunk in stream:
        extra = chunk.model_extra or {}
        if "vtc" in extra:
            if "per_round" in extra["vtc"]:
                final_vtc = extra["vtc"]
            else:
                markers.append(extra["vtc"])
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta_extra = choice.delta.model_extra or {}
            reasoning += delta_extra.get("reasoning_content") or ""
            content += choice.delta.content or ""
    plain_extra = plain.choices[0].message.model_extra or {}
    assert reasoning == plain_extra["reasoning_content"]
    assert content == (plain.choices[0].message.content or "")
    assert final_vtc is not None
    keys = ("round", "prompt_tokens", "generated_tokens", "pages", "vision_tokens")
    strip = [{k: r[k] for k in keys} for r in vtc_of(plain)["per_round"]]
    assert [{k: r[k] for k in keys} for r in final_vtc["per_round"]] == strip
    assert [{k: m[k] for k in keys} for m in markers] == strip
    assert usage is not None and plain.usage is not None
    assert usage.completion_tokens == plain.usage.completion_tokens
    await client.close()


async def test_stream_pages_on_the_real_engine_match_the_accounting(
    gateway: str, vllm_engine: VllmLocalEngine
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{gateway}/v1", api_key="unused")
    stream = await client.chat.completions.create(
        model=SERVED_NAME,
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0.0,
        stream=True,
        extra_body={"vtc": {**VTC, "round_max_tokens": 600, "stream_pages": True}},
    )
    pages: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    async for chunk in stream:
        vtc = (chunk.model_extra or {}).get("vtc")
        if vtc is None:
            continue
        if "page" in vtc:
            assert chunk.choices == []
            pages.append(vtc["page"])
        elif "per_round" in vtc:
            final = vtc
        else:
            markers.append(vtc)
    await client.close()
    assert len(pages) == final["pages"] >= 2
    assert [p["index"] for p in pages] == list(range(1, len(pages) + 1))
    for marker in markers:
        mine = [p for p in pages if p["round"] == marker["round"]]
        assert len(mine) == marker["pages"]
        assert sum(p["vision_tokens"] for p in mine) == marker["vision_tokens"]
    for page in pages:
        raw = base64.b64decode(page["url"].split(",", 1)[1])
        image = Image.open(io.BytesIO(raw))
        assert image.size == (page["width"], page["height"])
        # The model's own processor count for that size, as the engine's prompt growth shows.
        assert page["vision_tokens"] == vllm_engine.info.image_tokens(*image.size)


async def test_sync_sdk_plain_and_streaming_with_an_image(gateway: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    messages: Any = [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": url}},
                {"type": "text", "text": "What colour is this?"},
            ],
        }
    ]

    def call() -> tuple[Any, list[Any]]:
        client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused")
        body: dict[str, Any] = {"model": SERVED_NAME, "messages": messages, "max_tokens": 40}
        plain = client.chat.completions.create(**body, extra_body={"vtc": {"max_rounds": 1}})
        chunks = list(
            client.chat.completions.create(
                **body, stream=True, extra_body={"vtc": {"max_rounds": 1}}
            )
        )
        client.close()
        return plain, chunks

    plain, chunks = await asyncio.to_thread(call)
    vtc = vtc_of(plain)
    # The user's image is in the prompt: far more prompt tokens than the text alone.
    assert vtc["per_round"][0]["prompt_tokens"] > 60
    assert plain.usage.completion_tokens <= 40
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason is not None
    assert any((c.model_extra or {}).get("vtc") for c in chunks)


async def test_metrics_move_and_include_vllm_metrics(gateway: str) -> None:
    async with httpx.AsyncClient(base_url=gateway, timeout=120) as http:
        before = (await http.get("/metrics")).text
        data = (
            await http.post(
                "/v1/chat/completions",
                json={
                    "model": SERVED_NAME,
                    "messages": [{"role": "user", "content": QUESTION}],
                    "vtc": VTC,
                },
            )
        ).json()
        after = (await http.get("/metrics")).text
    vtc = data["vtc"]
    m = {"model": SERVED_NAME}
    assert (
        metric(after, "vtcr1_requests_total", **m, mode="vtc", status="ok")
        - metric(before, "vtcr1_requests_total", **m, mode="vtc", status="ok")
        == 1
    )
    for name, value in [
        ("vtcr1_rendered_pages_total", vtc["pages"]),
        ("vtcr1_vision_tokens_total", vtc["vision_tokens"]),
        ("vtcr1_reasoning_tokens_total", vtc["reasoning_tokens"]),
        ("vtcr1_generated_tokens_total", data["usage"]["completion_tokens"]),
    ]:
        assert metric(after, name, **m) - metric(before, name, **m) == value, name
    assert "vllm:num_requests_running" in after  # the engine's own metrics, same endpoint


async def test_client_disconnect_mid_stream_aborts_the_engine_request(
    gateway: str, vllm_engine: VllmLocalEngine
) -> None:
    body = {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": QUESTION}],
        "stream": True,
        "vtc": {"max_rounds": 8, "round_max_tokens": 2000},
    }
    async with httpx.AsyncClient(base_url=gateway, timeout=120) as http:
        before = (await http.get("/metrics")).text
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            seen = 0
            async for line in response.aiter_lines():
                if line.startswith("data: ") and "reasoning" in line:
                    seen += 1
                    if seen == 5:
                        break
        assert seen == 5
        await wait_until(lambda: vllm_engine.num_unfinished_requests() == 0)
        after = (await http.get("/metrics")).text
    cancelled = {"model": SERVED_NAME, "mode": "vtc", "status": "cancelled"}
    assert (
        metric(after, "vtcr1_requests_total", **cancelled)
        - metric(before, "vtcr1_requests_total", **cancelled)
        == 1
    )
    assert metric(after, "vtcr1_requests_in_flight", model=SERVED_NAME) == 0


async def test_remote_mode_against_a_real_vllm_serve(
    vllm_server: VllmServer, tiny_model_dir: Path
) -> None:
    settings = Settings(
        engine="openai",
        backend_urls=[vllm_server.base_url],
        model=str(tiny_model_dir),
        served_model_name=SERVED_NAME,
    )
    app = create_app(settings)
    async with serving(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            await _until_ready(http)
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused")
        response = await client.chat.completions.create(
            model=SERVED_NAME,
            messages=[{"role": "user", "content": QUESTION}],
            temperature=0.0,
            extra_body={"vtc": VTC},
        )
        stream = await client.chat.completions.create(
            model=SERVED_NAME,
            messages=[{"role": "user", "content": QUESTION}],
            temperature=0.0,
            stream=True,
            extra_body={"vtc": VTC},
        )
        reasoning = ""
        async for chunk in stream:
            for choice in chunk.choices:
                reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
        await client.close()
    vtc = vtc_of(response)
    assert vtc["rounds"] == 3 and vtc["pages"] >= 2
    assert vtc["per_round"][1]["prompt_tokens"] > vtc["per_round"][0]["prompt_tokens"]
    assert reasoning == (response.choices[0].message.model_extra or {})["reasoning_content"]


async def _until_ready(http: httpx.AsyncClient, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (await http.get("/ready")).status_code != 200:
        assert time.monotonic() < deadline, "gateway not ready in time"
        await asyncio.sleep(0.02)
