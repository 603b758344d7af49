"""Reading the VTC extras out of the SDK's objects, for this server and plain vLLM alike."""

from __future__ import annotations

import base64

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from clients.common import vtc_body
from clients.stream import (
    StreamResult,
    Watchers,
    _Collector,
    decode_data_url,
    reasoning_of,
    vtc_of,
)


def chunk(**extra: object) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", **extra}
    )


def test_vtc_and_reasoning_from_chunks() -> None:
    marker = chunk(choices=[], vtc={"round": 1, "pages": 2})
    assert vtc_of(marker) == {"round": 1, "pages": 2}
    assert vtc_of(chunk(choices=[])) is None  # a plain OpenAI-compatible server
    both = chunk(
        choices=[{"index": 0, "delta": {"reasoning_content": "x", "reasoning": "x"}}],
    )
    assert reasoning_of(both.choices[0].delta) == "x"  # the same text is not doubled
    vllm = chunk(choices=[{"index": 0, "delta": {"reasoning": "y"}}])
    assert reasoning_of(vllm.choices[0].delta) == "y"
    plain = chunk(choices=[{"index": 0, "delta": {"content": "z"}}])
    assert reasoning_of(plain.choices[0].delta) == ""


def test_vtc_from_a_response() -> None:
    response = ChatCompletion.model_validate(
        {
            "id": "r",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "a", "reasoning_content": "r"},
                }
            ],
            "vtc": {"mode": "vtc", "rounds": 2},
        }
    )
    assert vtc_of(response) == {"mode": "vtc", "rounds": 2}
    assert reasoning_of(response.choices[0].message) == "r"


def test_vtc_body_sends_only_what_is_set() -> None:
    assert vtc_body() == {}
    assert vtc_body(mode="vtc", max_rounds=2, return_pages=True, stream_pages=True) == {
        "mode": "vtc",
        "max_rounds": 2,
        "return_pages": True,
        "stream_pages": True,
    }


def test_page_chunks_are_collected_and_told_not_taken_for_rounds() -> None:
    page = {"round": 1, "index": 1, "kind": "reasoning", "vision_tokens": 4, "url": "data:,"}
    told: list[dict[str, object]] = []
    rounds: list[dict[str, object]] = []
    collector = _Collector(Watchers(on_page=told.append, on_round=rounds.append))
    collector.chunk(chunk(choices=[], vtc={"page": {**page, "kind": "input", "round": 0}}))
    collector.chunk(chunk(choices=[], vtc={"page": page}))
    collector.chunk(chunk(choices=[], vtc={"round": 1, "pages": 1}))
    collector.chunk(chunk(choices=[], vtc={"mode": "vtc", "rounds": 1, "pages": 1}))
    result = collector.finish()
    assert [p["kind"] for p in result.pages] == ["input", "reasoning"] == [p["kind"] for p in told]
    assert rounds == result.per_round == [{"round": 1, "pages": 1}]
    assert result.vtc == {"mode": "vtc", "rounds": 1, "pages": 1} and result.rounds == 1
    assert StreamResult(per_round=[{"round": 1}, {"round": 2}]).rounds == 2
    assert StreamResult().rounds is None


def test_decode_data_url() -> None:
    raw = b"\x89PNG-bytes"
    encoded = base64.b64encode(raw).decode()
    assert decode_data_url("data:image/png;base64," + encoded) == raw
    assert decode_data_url(encoded) == raw
