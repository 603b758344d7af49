"""`vtc.compress_input` through both APIs (scripted engine, real renderer): the `vtc.input`
object, input pages in the stream, `vtc_keep`, and the 400s."""

from __future__ import annotations

import json
from typing import Any

from server.engines.base import TextPart
from tests.api.conftest import SCRIPTED_MODEL, sse_payloads

DOCUMENT = "The committee met on Tuesday to review the budget and the plan. " * 300
QUESTION = "What did the committee review?"
FINAL = "the budget </think> The budget. <answer>the budget</answer>"


def chat(**vtc: Any) -> dict[str, Any]:
    return {
        "model": SCRIPTED_MODEL,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": DOCUMENT}, {"type": "text", "text": QUESTION}],
            }
        ],
        "vtc": vtc,
    }


async def test_chat_reports_the_input_compression(make_client: Any) -> None:
    async with make_client([FINAL]) as (client, engine):
        response = await client.post("/v1/chat/completions", json=chat(compress_input={}))
    assert response.status_code == 200, response.text
    data = response.json()["vtc"]["input"]
    assert data["pages"] >= 2 and data["text_tokens"] > 3000
    assert data["vision_tokens"] == 7 * data["pages"]
    assert data["compression_ratio"] == round(data["text_tokens"] / data["vision_tokens"], 6)
    assert data["render_s"] > 0
    assert response.json()["vtc"]["pages"] == 0  # reasoning pages are counted apart
    assert len(engine.calls[0][0][-1].images) == data["pages"]


async def test_without_compress_input_there_is_no_input_object(make_client: Any) -> None:
    async with make_client([FINAL]) as (client, _):
        response = await client.post("/v1/chat/completions", json=chat())
    assert "input" not in response.json()["vtc"]


async def test_input_pages_stream_first_with_their_kind(make_client: Any) -> None:
    request = {**chat(compress_input={"min_tokens": 100}, stream_pages=True), "stream": True}
    async with (
        make_client([FINAL]) as (client, _),
        client.stream("POST", "/v1/chat/completions", json=request) as response,
    ):
        chunks = [json.loads(p) for p in [p async for p in sse_payloads(response)][:-1]]
    pages = [c["vtc"]["page"] for c in chunks if "page" in c.get("vtc", {})]
    final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert pages and all(p["kind"] == "input" and p["round"] == 0 for p in pages)
    assert len(pages) == final["vtc"]["input"]["pages"]
    first_reasoning = next(
        i
        for i, c in enumerate(chunks)
        if c["choices"] and c["choices"][0]["delta"].get("reasoning")
    )
    page_positions = [i for i, c in enumerate(chunks) if "page" in c.get("vtc", {})]
    assert max(page_positions) < first_reasoning


async def test_vtc_keep_marks_the_question(make_client: Any) -> None:
    body = chat(compress_input={})
    body["messages"][0]["content"] = [
        {"type": "text", "text": QUESTION, "vtc_keep": True},
        {"type": "text", "text": DOCUMENT},
    ]
    async with make_client([FINAL]) as (client, engine):
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert engine.calls[0][0][-1].parts[-1] == TextPart(QUESTION)
    assert response.json()["vtc"]["input"]["pages"] >= 2


async def test_two_parts_marked_keep_is_a_400(make_client: Any) -> None:
    body = chat(compress_input={})
    for part in body["messages"][0]["content"]:
        part["vtc_keep"] = True
    async with make_client([FINAL]) as (client, _):
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages.0.content"


async def test_a_prompt_that_does_not_fit_is_a_400_before_round_one(make_client: Any) -> None:
    async with make_client([FINAL], max_images_per_prompt=1) as (client, engine):
        response = await client.post("/v1/chat/completions", json=chat(compress_input={}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "prompt_too_large" and error["param"] == "vtc.compress_input"
    assert engine.calls == []


async def test_responses_api_takes_the_same_object(make_client: Any) -> None:
    body = {
        "model": SCRIPTED_MODEL,
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": DOCUMENT},
                    {"type": "input_text", "text": QUESTION},
                ],
            }
        ],
        "vtc": {"compress_input": {"scope": "all"}},
    }
    async with make_client([FINAL]) as (client, _):
        response = await client.post("/v1/responses", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["vtc"]["input"]["pages"] >= 2


async def test_bad_compress_input_values_are_400s(make_client: Any) -> None:
    async with make_client([FINAL]) as (client, _):
        scope = await client.post("/v1/chat/completions", json=chat(compress_input={"scope": "x"}))
        low = await client.post("/v1/chat/completions", json=chat(compress_input={"min_tokens": 0}))
    assert scope.status_code == low.status_code == 400
    assert scope.json()["error"]["param"] == "vtc.compress_input.scope"
    assert low.json()["error"]["param"] == "vtc.compress_input.min_tokens"
