"""vLLM's sampling extensions through the API: what reaches the engine for each round
(scripted engine), and what they do on the real engine (tiny model)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from server.api.app import create_app
from server.api.text import text_cleaner
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.api.conftest import SCRIPTED_MODEL
from tests.conftest import SERVED_NAME
from tests.support.live_server import serving

UNFINISHED = "let me think about this problem step by step carefully " * 3  # 24 words
FINAL = "so it is five </think> The answer is 5. <answer>5</answer>"


def body(**extra: Any) -> dict[str, Any]:
    return {"model": SCRIPTED_MODEL, "messages": [{"role": "user", "content": "2+3?"}], **extra}


async def test_extensions_reach_every_round(make_client: Any) -> None:
    request = body(
        ignore_eos=True,
        min_tokens=30,
        top_k=20,
        min_p=0.05,
        repetition_penalty=1.1,
        stop_token_ids=[7, 9],
        vtc={"round_max_tokens": 24},
    )
    async with make_client([UNFINISHED, UNFINISHED, FINAL]) as (client, engine):
        response = await client.post("/v1/chat/completions", json=request)
    assert response.status_code == 200, response.text
    params = [call[1] for call in engine.calls]
    assert all(p.ignore_eos and p.top_k == 20 and p.min_p == 0.05 for p in params)
    assert all(p.repetition_penalty == 1.1 and p.stop_token_ids == (7, 9) for p in params)
    # min_tokens counts over the request: round 1 may not stop before 24 (its whole
    # budget), round 2 before the 6 still missing, round 3 is free.
    assert [p.min_tokens for p in params] == [24, 6, 0]


async def test_top_k_off_values_and_refusals(make_client: Any) -> None:
    async with make_client([FINAL, FINAL]) as (client, engine):
        off = await client.post("/v1/chat/completions", json=body(top_k=-1))
        kwargs = await client.post(
            "/v1/chat/completions", json=body(chat_template_kwargs={"enable_thinking": False})
        )
        none = await client.post("/v1/chat/completions", json=body(reasoning_effort="none"))
        bias = await client.post("/v1/chat/completions", json=body(logit_bias={"5": 10}))
        guided = await client.post("/v1/chat/completions", json=body(guided_json={"type": "x"}))
    assert off.status_code == 200 and engine.calls[0][1].top_k is None
    for response, param in (
        (kwargs, "chat_template_kwargs"),
        (none, "reasoning_effort"),
        (bias, "logit_bias"),
        (guided, "guided_json"),
    ):
        assert response.status_code == 400, param
        assert response.json()["error"] == {
            **response.json()["error"],
            "code": "unsupported_value",
            "param": param,
        }


@pytest.mark.parametrize(("effort", "rounds"), [("minimal", 1), ("low", 1), ("medium", 2)])
async def test_reasoning_effort_is_a_budget_of_rounds(
    make_client: Any, effort: str, rounds: int
) -> None:
    # The server's max_rounds is 3 here (the tiny-model demo default): medium = ceil(1.5).
    async with make_client([UNFINISHED] * 4) as (client, _):
        response = await client.post("/v1/chat/completions", json=body(reasoning_effort=effort))
    assert response.json()["vtc"]["rounds"] == rounds


async def test_continuous_usage_stats_on_every_chunk(make_client: Any) -> None:
    request = body(
        stream=True, stream_options={"include_usage": True, "continuous_usage_stats": True}
    )
    async with (
        make_client([UNFINISHED, FINAL]) as (client, _),
        client.stream("POST", "/v1/chat/completions", json=request) as response,
    ):
        lines = [line async for line in response.aiter_lines() if line.startswith("data: {")]

    chunks = [json.loads(line[6:]) for line in lines]
    assert all("usage" in c for c in chunks)
    completion = [c["usage"]["completion_tokens"] for c in chunks]
    assert completion == sorted(completion) and completion[-1] > 0
    for c in chunks:
        u = c["usage"]
        assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]


@pytest.fixture
async def sdk(vllm_engine: VllmLocalEngine) -> AsyncIterator[openai.AsyncOpenAI]:
    app = create_app(Settings(served_model_name=SERVED_NAME), engine=vllm_engine)
    async with serving(app) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused")
        yield client
        await client.close()


def ask(**extra: Any) -> dict[str, Any]:
    return {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": "Compute 17 * 23 and explain."}],
        "temperature": 0.0,
        **extra,
    }


@pytest.mark.engine
async def test_ignore_eos_gives_exactly_max_tokens(sdk: openai.AsyncOpenAI) -> None:
    response = await sdk.chat.completions.create(
        **ask(max_tokens=40), extra_body={"ignore_eos": True}
    )
    assert response.usage is not None and response.usage.completion_tokens == 40
    assert response.choices[0].finish_reason == "length"


@pytest.mark.engine
async def test_a_stop_token_id_ends_the_request(
    sdk: openai.AsyncOpenAI, vllm_engine: VllmLocalEngine
) -> None:
    free = await sdk.chat.completions.create(
        **ask(max_tokens=60), extra_body={"skip_special_tokens": False, "vtc": {"max_rounds": 1}}
    )
    raw = (free.choices[0].message.model_extra or {})["reasoning_content"]
    ids = await vllm_engine.tokenize(raw, add_special_tokens=False)
    stop_id = ids[len(ids) // 2]
    stopped = await sdk.chat.completions.create(
        **ask(max_tokens=60), extra_body={"stop_token_ids": [stop_id], "vtc": {"max_rounds": 3}}
    )
    vtc = (stopped.model_extra or {})["vtc"]
    assert stopped.choices[0].finish_reason == "stop" and vtc["rounds"] == 1
    assert stopped.usage is not None and stopped.usage.completion_tokens < 60


@pytest.mark.engine
async def test_clients_see_no_special_tokens_unless_they_ask(
    sdk: openai.AsyncOpenAI, vllm_engine: VllmLocalEngine
) -> None:
    common = ask(max_tokens=200, seed=7)
    clean = await sdk.chat.completions.create(**common, extra_body={"vtc": {"max_rounds": 1}})
    raw = await sdk.chat.completions.create(
        **common, extra_body={"vtc": {"max_rounds": 1}, "skip_special_tokens": False}
    )
    cleaned = (clean.choices[0].message.model_extra or {})["reasoning_content"]
    unclean = (raw.choices[0].message.model_extra or {})["reasoning_content"]
    special = vllm_engine.info.special_tokens
    assert special and not any(token in cleaned for token in special)
    assert not any(ch in cleaned for ch in "\x00\x01\x02\x1b\x7f")
    assert cleaned == text_cleaner(special, skip_special_tokens=True)(unclean)
