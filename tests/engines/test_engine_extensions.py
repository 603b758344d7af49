"""The engine port's vLLM extensions on both REAL engines (in-process and remote, tiny model):
sampling extensions with vLLM's meaning, the caller's stop token reported, the model root and
special tokens, and tokenize / detokenize / chat template equal to what `vllm serve` answers.

The tiny model is random: greedy output is deterministic but gibberish, so each test first
finds, on the engine itself, a prompt where the behaviour shows (e.g. one the model ends at once
with an EOS id), and asserts that precondition too.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from server.engines.base import (
    ChatMessage,
    Engine,
    GenerationDelta,
    GenerationParams,
    ImagePart,
    TextPart,
)
from server.engines.factory import create_remote_engine
from server.engines.openai_remote import OpenAIRemoteEngine
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from server.tiny_model.build import VOCAB_SIZE
from tests.conftest import SERVED_NAME
from tests.engines.pages import page, vtc_messages
from tests.support.vllm_process import VllmServer

pytestmark = pytest.mark.engine

# Greedy first tokens of the tiny model's chat prompt for these user texts were an EOS id of its
# generation config (found by a search over one-token texts with transformers; about a third of
# them do). The test uses the first one the engine really ends at once.
EOS_CANDIDATES = ("405", " 299", " oux", "douct", " prour", "pris", "ECT", " proba", "cist")
TEXTS = ("Hello wörld", "<think>12 + 30 = 42</think><answer>42</answer>", "<|user|>\nx  y\t", "")


async def collect(agen: AsyncIterator[GenerationDelta]) -> list[GenerationDelta]:
    return [d async for d in agen]


@pytest.fixture(scope="module")
async def remote_engine(
    vllm_server: VllmServer, engine_settings: Settings
) -> AsyncIterator[OpenAIRemoteEngine]:
    settings = engine_settings.model_copy(
        update={"engine": "openai", "backend_urls": [vllm_server.base_url]}
    )
    engine = await create_remote_engine(settings, str(settings.model))
    assert isinstance(engine, OpenAIRemoteEngine)
    yield engine
    await engine.aclose()


@pytest.fixture(params=["local", "remote"])
def engine(
    request: pytest.FixtureRequest,
) -> Engine:
    """Each test runs on both engines (the remote one against the session's `vllm serve`)."""
    name = "vllm_engine" if request.param == "local" else "remote_engine"
    value = request.getfixturevalue(name)
    assert isinstance(value, Engine)
    return value


_ids = itertools.count()


async def run(
    engine: Engine, messages: list[ChatMessage], params: GenerationParams
) -> tuple[str, GenerationDelta]:
    """(text, last delta) of one generation."""
    deltas = await collect(engine.generate(messages, params, f"ext-{next(_ids)}"))
    return "".join(d.text for d in deltas), deltas[-1]


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage("user", (TextPart(text),))]


async def eos_prompt(engine: Engine) -> list[ChatMessage]:
    """A prompt the model ends at its first token with an EOS id (not a caller's stop)."""
    one = GenerationParams(max_tokens=4, temperature=0.0)
    for text in EOS_CANDIDATES:
        _, last = await run(engine, user(text), one)
        if last.finish_reason == "stop" and last.generated_tokens == 1:
            assert last.stop_token is None and last.stop_sequence is None
            return user(text)
    raise AssertionError("no candidate prompt ends at once: did the tiny model change?")


def test_model_info_root_and_special_tokens(engine: Engine, tiny_model_dir: Path) -> None:
    info = engine.info
    assert info.root == str(tiny_model_dir)
    for token in ("<|user|>", "<|assistant|>", "<|begin_of_image|>", "<|image|>", "[gMASK]"):
        assert token in info.special_tokens
    assert "<think>" not in info.special_tokens  # an added token, but not a special one


async def test_ignore_eos_and_min_tokens(engine: Engine) -> None:
    messages = await eos_prompt(engine)
    ignored = GenerationParams(max_tokens=6, temperature=0.0, ignore_eos=True)
    _, last = await run(engine, messages, ignored)
    assert (last.finish_reason, last.generated_tokens) == ("length", 6)
    at_least = GenerationParams(max_tokens=16, temperature=0.0, min_tokens=4)
    _, last = await run(engine, messages, at_least)
    assert last.generated_tokens >= 4


async def test_stop_token_ids_end_with_the_token(engine: Engine) -> None:
    messages = vtc_messages([page(110)])  # greedy runs to the cap on this prompt
    every = GenerationParams(max_tokens=8, temperature=0.0, stop_token_ids=tuple(range(VOCAB_SIZE)))
    _, last = await run(engine, messages, every)
    assert (last.finish_reason, last.generated_tokens) == ("stop", 1)
    first = last.stop_token
    assert first is not None and 0 <= first < VOCAB_SIZE
    only = GenerationParams(max_tokens=8, temperature=0.0, stop_token_ids=(first,))
    _, last = await run(engine, messages, only)
    assert (last.finish_reason, last.stop_token, last.stop_sequence) == ("stop", first, None)
    # min_tokens holds stop tokens back too.
    later = GenerationParams(max_tokens=8, temperature=0.0, stop_token_ids=(first,), min_tokens=3)
    _, last = await run(engine, messages, later)
    assert last.generated_tokens >= 3


SAMPLED = GenerationParams(max_tokens=24, temperature=1.0, top_p=1.0, seed=3)


async def test_top_k_min_p_and_repetition_penalty(engine: Engine) -> None:
    """top_k and min_p change a seeded sample, the repetition penalty the greedy output (which
    loops on the random model); a dropped field would leave them as they were. Not "top_k=1 ==
    greedy": the random model's bf16 logits tie often, and vLLM's top-k keeps every tied token
    where greedy takes the first. The penalty does not show in a T=1 sample: on the near-flat
    distribution the seeded draw rarely lands on a token seen before."""
    messages = vtc_messages([page(111)])
    free, _ = await run(engine, messages, SAMPLED)
    again, _ = await run(engine, messages, SAMPLED)
    assert again == free  # precondition: the seed makes the sample repeatable
    for change in ({"top_k": 1}, {"min_p": 0.5}):
        text, last = await run(engine, messages, replace(SAMPLED, **change))
        assert text != free, change
        assert last.generated_tokens == SAMPLED.max_tokens
    greedy = GenerationParams(max_tokens=24, temperature=0.0)
    penalised = replace(greedy, repetition_penalty=1.5)
    assert (await run(engine, messages, penalised))[0] != (await run(engine, messages, greedy))[0]


async def test_both_engines_sample_alike(
    vllm_engine: VllmLocalEngine, remote_engine: OpenAIRemoteEngine
) -> None:
    """The remote engine sends every extension with the in-process engine's meaning: the same
    seeded sample from both."""
    messages = vtc_messages([page(114)])
    params = replace(SAMPLED, top_k=8, min_p=0.05, repetition_penalty=1.2, min_tokens=2)
    local, _ = await run(vllm_engine, messages, params)
    remote, _ = await run(remote_engine, messages, params)
    assert remote == local


async def _vllm(server: VllmServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(f"{server.base_url}{path}", json=body)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.parametrize("add_special_tokens", [True, False])
async def test_tokenize_and_detokenize_equal_vllm_serve(
    engine: Engine, vllm_server: VllmServer, add_special_tokens: bool
) -> None:
    for text in TEXTS:
        ids = await engine.tokenize(text, add_special_tokens=add_special_tokens)
        theirs = await _vllm(
            vllm_server,
            "/tokenize",
            {"model": SERVED_NAME, "prompt": text, "add_special_tokens": add_special_tokens},
        )
        assert ids == theirs["tokens"], text
        back = await engine.detokenize(ids)
        assert back == (await _vllm(vllm_server, "/detokenize", {"tokens": ids}))["prompt"]
        assert back == text  # byte-level BPE: the round trip is exact


def _data_url(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.mark.parametrize("add_generation_prompt", [True, False])
async def test_chat_template_equals_the_prompt_vllm_renders(
    engine: Engine, vllm_server: VllmServer, add_generation_prompt: bool
) -> None:
    """Text turns: the same ids as `vllm serve`'s chat `/tokenize`. With an image, vLLM's ids
    are ours with the one `<|image|>` placeholder expanded to the image's tokens."""
    image = page(112, size=(280, 196))
    messages = [
        ChatMessage("system", (TextPart("Be brief."),)),
        ChatMessage("user", (ImagePart(image), TextPart("What is 2+2?"))),
        ChatMessage("assistant", (TextPart("<think>2+2</think>4"),)),
        ChatMessage("user", (TextPart("And 3+3?"),)),
    ]
    openai = [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": _data_url(image)}},
                {"type": "text", "text": "What is 2+2?"},
            ],
        },
        {"role": "assistant", "content": "<think>2+2</think>4"},
        {"role": "user", "content": "And 3+3?"},
    ]
    prompt = engine.chat_template(messages, add_generation_prompt=add_generation_prompt)
    assert prompt.endswith("<|assistant|>\n") == add_generation_prompt
    ours = await engine.tokenize(prompt, add_special_tokens=False)
    theirs = await _vllm(
        vllm_server,
        "/tokenize",
        {"model": SERVED_NAME, "messages": openai, "add_generation_prompt": add_generation_prompt},
    )
    (placeholder,) = await engine.tokenize("<|image|>", add_special_tokens=False)
    at = ours.index(placeholder)
    expanded = ours[:at] + [placeholder] * engine.info.image_tokens(*image.size) + ours[at + 1 :]
    assert theirs["tokens"] == expanded


def test_local_and_remote_render_the_same_template(
    vllm_engine: VllmLocalEngine, remote_engine: OpenAIRemoteEngine
) -> None:
    """The remote engine reads the tokenizer's template, the local one the processor's."""
    messages = vtc_messages([page(113)])
    assert remote_engine.chat_template(messages) == vllm_engine.chat_template(messages)
    assert vllm_engine.chat_template(messages) == vllm_engine.render_prompt(messages)
