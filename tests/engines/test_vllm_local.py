"""The in-process vLLM engine on the tiny model (one engine for the whole session)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from server.engines.base import (
    ChatMessage,
    Engine,
    EngineError,
    GenerationDelta,
    GenerationParams,
    TextPart,
)
from server.engines.vllm_local import VllmLocalEngine
from server.settings import VTC_SYSTEM_PROMPT
from tests.conftest import SERVED_NAME, TEST_MAX_MODEL_LEN
from tests.engines.pages import PAGE_SIZE, QUESTION, page, vtc_messages

pytestmark = pytest.mark.engine

GREEDY = GenerationParams(max_tokens=12, temperature=0.0)


async def collect(agen: AsyncIterator[GenerationDelta]) -> list[GenerationDelta]:
    return [d async for d in agen]


def expected_prompt_tokens(engine: VllmLocalEngine, messages: list[ChatMessage]) -> int:
    """Template tokens, with each one-token image placeholder replaced by the image's tokens."""
    tokenizer = engine._processor.tokenizer
    text_ids = tokenizer(engine.render_prompt(messages), add_special_tokens=False)["input_ids"]
    images = [img for m in messages for img in m.images]
    return len(text_ids) - len(images) + sum(engine.info.image_tokens(*i.size) for i in images)


def test_model_info(vllm_engine: VllmLocalEngine) -> None:
    assert isinstance(vllm_engine, Engine)
    info = vllm_engine.info
    assert info.name == SERVED_NAME
    assert info.max_model_len == TEST_MAX_MODEL_LEN
    assert not info.wants_png
    assert info.image_tokens(*PAGE_SIZE) == 352  # 16 x 22 merged 28-px patches
    assert info.extra["image_overhead_tokens"] == 2  # <|begin_of_image|>, <|end_of_image|>


@pytest.mark.parametrize("images_first", [True, False], ids=["images_first", "question_first"])
def test_prompt_equals_reference_builders(
    vllm_engine: VllmLocalEngine, tiny_model_dir: Path, images_first: bool
) -> None:
    """Our prompt == the VTC-R1 evaluator's (HF processor, system prompt as a string, image
    parts with the PIL image) == vLLM's own chat handling (what `vllm serve` would build)."""
    from transformers import AutoProcessor
    from vllm.renderers.params import ChatParams

    pages = [page(11), page(12)]
    ours = vllm_engine.render_prompt(vtc_messages(pages, images_first=images_first))

    image_parts: list[dict[str, Any]] = [{"type": "image", "image": p} for p in pages]
    text_part: list[dict[str, Any]] = [{"type": "text", "text": QUESTION}]
    reference = [
        {"role": "system", "content": VTC_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": image_parts + text_part if images_first else text_part + image_parts,
        },
    ]
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    hf = processor.apply_chat_template(reference, tokenize=False, add_generation_prompt=True)
    assert ours == hf

    vllm_parts: list[dict[str, Any]] = [{"type": "image_pil", "image_pil": p} for p in pages]
    openai_style = [
        {"role": "system", "content": VTC_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": vllm_parts + text_part if images_first else text_part + vllm_parts,
        },
    ]
    renderer = vllm_engine._llm.renderer
    _, as_text = renderer.render_messages(
        openai_style,
        ChatParams(chat_template_kwargs={"add_generation_prompt": True, "tokenize": False}),
    )
    assert ours == as_text["prompt"]
    # ... and the same token ids as vLLM's chat tokenisation.
    _, as_ids = renderer.render_messages(
        openai_style, ChatParams(chat_template_kwargs={"add_generation_prompt": True})
    )
    ours_ids = vllm_engine._processor.tokenizer(ours, add_special_tokens=False)["input_ids"]
    assert ours_ids == as_ids["prompt_token_ids"]

    marker = "<|begin_of_image|><|image|><|end_of_image|>"
    user = ours.split("<|user|>\n", 1)[1]
    expected = marker * 2 + QUESTION if images_first else QUESTION + marker * 2
    assert user == expected + "<|assistant|>\n"
    assert ours.startswith("[gMASK]<sop><|system|>\n" + VTC_SYSTEM_PROMPT)


async def test_streams_deltas_with_counts(vllm_engine: VllmLocalEngine) -> None:
    messages = vtc_messages([page(21)])
    deltas = await collect(vllm_engine.generate(messages, GREEDY, "stream-1"))
    expected = expected_prompt_tokens(vllm_engine, messages)
    assert all(d.prompt_tokens == expected for d in deltas)
    counts = [d.generated_tokens for d in deltas]
    assert counts == sorted(counts) and counts[-1] == GREEDY.max_tokens
    assert deltas[-1].finish_reason == "length"
    assert all(d.finish_reason is None for d in deltas[:-1])
    assert len(deltas) >= 2 and "".join(d.text for d in deltas)
    # Greedy is deterministic: the same request streams the same text.
    again = await collect(vllm_engine.generate(messages, GREEDY, "stream-2"))
    assert "".join(d.text for d in again) == "".join(d.text for d in deltas)


async def test_prompt_grows_by_exactly_the_image_tokens(vllm_engine: VllmLocalEngine) -> None:
    one = GenerationParams(max_tokens=1, temperature=0.0)
    wide = page(32, size=(700, 500))
    base = vtc_messages([page(31)])
    more = vtc_messages([page(31), wide])
    first = (await collect(vllm_engine.generate(base, one, "grow-1")))[-1]
    second = (await collect(vllm_engine.generate(more, one, "grow-2")))[-1]
    image_tokens = vllm_engine.info.image_tokens(*wide.size)
    assert image_tokens == 25 * 18  # 700x500 -> 25 x 18 patches of 28 px
    overhead = vllm_engine.info.extra["image_overhead_tokens"]
    assert isinstance(overhead, int)
    assert second.prompt_tokens - first.prompt_tokens == image_tokens + overhead
    assert first.prompt_tokens == expected_prompt_tokens(vllm_engine, base)


async def test_second_round_hits_the_prefix_cache(vllm_engine: VllmLocalEngine) -> None:
    block = int(vllm_engine._llm.vllm_config.cache_config.block_size)
    p1, p2 = page(41), page(42)
    round1 = (await collect(vllm_engine.generate(vtc_messages([p1]), GREEDY, "cache-1")))[-1]
    round2 = (await collect(vllm_engine.generate(vtc_messages([p1, p2]), GREEDY, "cache-2")))[-1]
    # Shared prefix: everything of round 1's prompt before the question.
    tokenizer = vllm_engine._processor.tokenizer
    tail = QUESTION + "<|assistant|>\n"
    shared = round1.prompt_tokens - len(tokenizer(tail, add_special_tokens=False)["input_ids"])
    assert round2.cached_tokens >= shared - block
    assert round2.cached_tokens > round1.cached_tokens
    assert round2.cached_tokens < round2.prompt_tokens


async def test_closing_the_iterator_aborts_the_request(vllm_engine: VllmLocalEngine) -> None:
    long = GenerationParams(max_tokens=3000, temperature=0.0)
    agen = vllm_engine.generate(vtc_messages([page(51)]), long, "close-1")
    got = [await anext(agen) for _ in range(3)]
    assert got[-1].finish_reason is None
    await agen.aclose()
    assert vllm_engine.num_unfinished_requests() == 0
    # The engine core holds no KV blocks for it: it was aborted, not left generating.
    assert await vllm_engine.kv_cache_idle()


async def test_abort_by_request_id(vllm_engine: VllmLocalEngine) -> None:
    long = GenerationParams(max_tokens=3000, temperature=0.0)
    agen = vllm_engine.generate(vtc_messages([page(52)]), long, "abort-1")
    await anext(agen)
    await vllm_engine.abort("abort-1")
    rest = await asyncio.wait_for(collect(agen), timeout=30)
    assert rest[-1].finish_reason == "abort"
    assert rest[-1].generated_tokens < 3000
    assert vllm_engine.num_unfinished_requests() == 0
    assert await vllm_engine.kv_cache_idle()


async def test_stop_string_reports_the_sequence(vllm_engine: VllmLocalEngine) -> None:
    messages = [ChatMessage("user", (TextPart("Count: 1 2 3"),))]
    free = await collect(vllm_engine.generate(messages, GREEDY, "stop-0"))
    text = "".join(d.text for d in free)
    stop = text[len(text) // 2 :][:3]
    assert stop.strip()
    params = GenerationParams(max_tokens=12, temperature=0.0, stop=(stop,))
    stopped = await collect(vllm_engine.generate(messages, params, "stop-1"))
    assert stopped[-1].finish_reason == "stop"
    assert stopped[-1].stop_sequence == stop
    assert stopped[-1].generated_tokens < GREEDY.max_tokens


async def test_concurrent_requests(vllm_engine: VllmLocalEngine) -> None:
    params = GenerationParams(max_tokens=8, temperature=0.7, seed=7)
    runs = await asyncio.gather(
        *(
            collect(vllm_engine.generate(vtc_messages([page(60 + i)]), params, f"conc-{i}"))
            for i in range(4)
        )
    )
    assert all(r[-1].generated_tokens == 8 and r[-1].finish_reason == "length" for r in runs)
    await vllm_engine.check_health()


def test_images_of_any_mode_are_accepted(vllm_engine: VllmLocalEngine) -> None:
    """Pages may be grayscale; the processor converts, the count depends only on the size."""
    gray = Image.new("L", PAGE_SIZE, 255)
    assert vllm_engine.info.image_tokens(*gray.size) == 352


async def test_prompt_over_the_context_is_a_final_error(vllm_engine: VllmLocalEngine) -> None:
    messages = [ChatMessage("user", (TextPart("hello " * (TEST_MAX_MODEL_LEN + 10)),))]
    with pytest.raises(EngineError) as err:
        await collect(vllm_engine.generate(messages, GREEDY, "too-long"))
    assert not err.value.retryable
    assert "context length" in str(err.value)
    await vllm_engine.check_health()  # the engine survives a refused request


async def test_seeded_request_with_a_chunked_prefill_survives(
    vllm_engine: VllmLocalEngine,
) -> None:
    """Seven pages (> 2048 tokens, the CPU step budget) are prefilled in chunks; with a seed,
    vLLM rewinds the request's generator, which the CPU build refused and died of (fixed by
    scripts/vllm_cpu_fixes.py). The engine must answer and stay healthy."""
    messages = vtc_messages([page(300 + i) for i in range(7)])
    params = GenerationParams(max_tokens=4, temperature=0.8, seed=5)
    deltas = await collect(vllm_engine.generate(messages, params, "seeded-chunked"))
    assert deltas[-1].prompt_tokens > 2048
    assert deltas[-1].generated_tokens == 4
    await vllm_engine.check_health()
