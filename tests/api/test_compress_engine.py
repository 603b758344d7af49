"""`vtc.compress_input` on the real engine (tiny model): the prompt grows by exactly the input
pages' vision tokens, the pages are served from the prefix cache in round 2, the accounting
uses the model's tokenizer, and prompts that cannot fit are 400s before any engine work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from server.api.app import create_app
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from server.tiny_model.corpus import build_corpus
from tests.conftest import SERVED_NAME, TEST_MAX_IMAGES
from tests.support.live_server import serving

pytestmark = pytest.mark.engine

QUESTION = "What does the text say about the triangle?"


def document(chars: int) -> str:
    """Prose and maths in the tiny tokenizer's own vocabulary, `chars` long."""
    paragraphs = build_corpus(paragraphs=400)
    text = "\n\n".join(paragraphs)
    while len(text) < chars:
        text += "\n\n" + text
    return text[:chars]


@pytest.fixture
async def sdk(vllm_engine: VllmLocalEngine) -> AsyncIterator[openai.AsyncOpenAI]:
    # The gateway knows the engine's image limit from the same settings `make serve` gives both.
    settings = Settings(served_model_name=SERVED_NAME, max_images_per_prompt=TEST_MAX_IMAGES)
    app = create_app(settings, engine=vllm_engine)
    async with serving(app) as url:
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        yield client
        await client.close()


def ask(parts: list[dict[str, Any]], **vtc: Any) -> dict[str, Any]:
    return {
        "model": SERVED_NAME,
        "messages": [{"role": "user", "content": parts}],
        "temperature": 0.0,
        "extra_body": {"vtc": {"round_max_tokens": 96, **vtc}},
    }


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


async def test_input_pages_cost_their_vision_tokens_and_are_cached_in_round_two(
    sdk: openai.AsyncOpenAI, vllm_engine: VllmLocalEngine
) -> None:
    doc = document(12_000)
    plain = await sdk.chat.completions.create(**ask([text(QUESTION)], max_rounds=1))
    packed = await sdk.chat.completions.create(
        **ask([text(doc), text(QUESTION)], max_rounds=2, compress_input={"min_tokens": 256})
    )
    vtc = (packed.model_extra or {})["vtc"]
    info = vtc["input"]
    rounds = vtc["per_round"]
    plain_prompt = (plain.model_extra or {})["vtc"]["per_round"][0]["prompt_tokens"]
    overhead = int(vllm_engine.info.extra["image_overhead_tokens"])  # type: ignore[call-overload]
    assert info["pages"] >= 2
    assert (
        rounds[0]["prompt_tokens"]
        == plain_prompt + info["vision_tokens"] + overhead * info["pages"]
    )
    assert info["text_tokens"] == len(await vllm_engine.tokenize(doc, add_special_tokens=False))
    assert info["compression_ratio"] == pytest.approx(
        info["text_tokens"] / info["vision_tokens"], rel=1e-5
    )
    assert info["text_tokens"] > 2 * info["vision_tokens"]  # the point of it
    # Round 2 re-sends the same pages right after the system prompt: cached but for the last
    # partial KV block (128 tokens on CPU).
    assert rounds[1]["cached_tokens"] >= info["vision_tokens"] - 128 > 0


async def test_more_pages_than_the_engine_takes_is_a_400(
    sdk: openai.AsyncOpenAI, vllm_engine: VllmLocalEngine
) -> None:
    doc = document(12_000 * TEST_MAX_IMAGES)
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(**ask([text(doc), text(QUESTION)], compress_input={}))
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "prompt_too_large"
    assert f"at most {TEST_MAX_IMAGES} per prompt" in error["message"]
    assert vllm_engine.num_unfinished_requests() == 0


async def test_a_prompt_beyond_the_context_is_a_400(sdk: openai.AsyncOpenAI) -> None:
    # Seven full pages (~630 vision tokens each) pass the image limit but not 4096 tokens.
    doc = document(42_000)
    with pytest.raises(openai.BadRequestError) as caught:
        await sdk.chat.completions.create(**ask([text(doc), text(QUESTION)], compress_input={}))
    error = caught.value.body
    assert isinstance(error, dict) and error["code"] == "prompt_too_large"
    assert "context is 4096" in error["message"]
