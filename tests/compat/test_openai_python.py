"""The OpenAI Python SDK against a real `vtcr1 serve`: chat (plain, streamed with pages) and the
Responses API (create, create(stream=True), the `responses.stream()` helper), the models.

Smoke checks of what a user of the SDK sees: the reasoning (an untyped field of the chat
message, typed reasoning items in responses), usage with its reasoning tokens, our `vtc`
extension passed through, and nothing the SDK sends by default ignored by the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.compat.conftest import ROUND_TOKENS, ROUNDS
from tests.compat.gateway import Gateway
from tests.conftest import SERVED_NAME, TEST_MAX_MODEL_LEN

pytestmark = pytest.mark.engine

QUESTION = "What is 17 * 23?"


@pytest.fixture
def client(gateway: Gateway) -> Iterator[OpenAI]:
    mark = gateway.log_offset()
    with OpenAI(base_url=f"{gateway.base_url}/v1", api_key="EMPTY", max_retries=0) as sdk:
        yield sdk
    assert gateway.ignored_fields(mark) == []


def test_models_retrieve_names_the_tokenizer(client: OpenAI, tiny_model_dir: Any) -> None:
    card = client.models.retrieve(SERVED_NAME)
    assert card.id == SERVED_NAME
    assert card.model_extra == {
        "root": str(tiny_model_dir),
        "parent": None,
        "max_model_len": TEST_MAX_MODEL_LEN,
    }
    assert [m.id for m in client.models.list()] == [SERVED_NAME]


def test_chat_reasoning_usage_and_vtc(client: OpenAI) -> None:
    reply = client.chat.completions.create(
        model=SERVED_NAME, messages=[{"role": "user", "content": QUESTION}]
    )
    message = reply.choices[0].message
    extra = message.model_extra or {}
    # The tiny model never closes </think>: everything it wrote is reasoning.
    assert extra["reasoning_content"] and extra["reasoning"] == extra["reasoning_content"]
    assert message.content == ""
    assert reply.choices[0].finish_reason == "length"
    usage = reply.usage
    assert usage is not None and usage.completion_tokens == ROUNDS * ROUND_TOKENS
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == usage.completion_tokens
    assert (reply.model_extra or {})["vtc"]["rounds"] == ROUNDS


def test_chat_stream_reasoning_pages_and_usage(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=SERVED_NAME,
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"vtc": {"stream_pages": True}},
    )
    reasoning, pages, usage, summary = "", [], None, None
    for chunk in stream:
        vtc = (chunk.model_extra or {}).get("vtc") or {}
        if "page" in vtc:
            pages.append(vtc["page"])
        if chunk.choices:
            reasoning += (chunk.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
            if chunk.choices[0].finish_reason:
                summary = vtc
        usage = chunk.usage or usage
    assert reasoning
    # Every round but the last is rendered: its pages stream as chunks without choices.
    assert summary is not None and summary["rounds"] == ROUNDS
    assert len(pages) == summary["pages"] >= 1
    assert pages[0]["url"].startswith("data:image/png;base64,")
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == usage.completion_tokens > 0


def _reasoning_texts(output: list[Any]) -> list[str]:
    items = [item for item in output if item.type == "reasoning"]
    return ["".join(part.text for part in item.content or []) for item in items]


def test_responses_create_one_reasoning_item_per_round(client: OpenAI) -> None:
    response = client.responses.create(model=SERVED_NAME, input=QUESTION)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    texts = _reasoning_texts(response.output)
    assert len(texts) == ROUNDS and all(texts)
    assert response.output_text == ""
    usage = response.usage
    assert usage is not None and usage.output_tokens == ROUNDS * ROUND_TOKENS
    assert usage.output_tokens_details.reasoning_tokens == usage.output_tokens


def test_responses_create_stream_events(client: OpenAI) -> None:
    # Our response.vtc.* events go to clients that sent a `vtc` object.
    events = list(
        client.responses.create(
            model=SERVED_NAME, input=QUESTION, stream=True, extra_body={"vtc": {}}
        )
    )
    types: list[str] = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.count("response.vtc.round") == ROUNDS
    numbers = [event.sequence_number for event in events]
    assert numbers == sorted(set(numbers))
    deltas = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert deltas == "".join(_reasoning_texts(final.output)) != ""


def test_responses_stream_helper_final_response(client: OpenAI) -> None:
    with client.responses.stream(model=SERVED_NAME, input=QUESTION) as stream:
        types = {event.type for event in stream}
        final = stream.get_final_response()
    assert "response.reasoning_text.delta" in types
    assert not any(t.startswith("response.vtc.") for t in types)  # no `vtc` object sent
    assert len(_reasoning_texts(final.output)) == ROUNDS
    assert final.usage is not None
    assert final.usage.output_tokens_details.reasoning_tokens == ROUNDS * ROUND_TOKENS
