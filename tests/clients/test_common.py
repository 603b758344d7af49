"""Reading the VTC extras out of the SDK's objects, for this server and plain vLLM alike."""

from __future__ import annotations

import base64

from openai.types.chat import ChatCompletion, ChatCompletionChunk

from clients.common import vtc_body
from clients.stream import StreamResult, decode_data_url, reasoning_of, vtc_of


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
    assert vtc_body(mode="vtc", max_rounds=2, return_pages=True) == {
        "mode": "vtc",
        "max_rounds": 2,
        "return_pages": True,
    }


def test_page_images_prefer_the_final_object() -> None:
    result = StreamResult(round_pages=["data:image/png;base64,AA=="])
    assert result.page_images == ["data:image/png;base64,AA=="]
    result.vtc = {"page_images": ["p1", "p2"], "rounds": 3}
    assert result.page_images == ["p1", "p2"] and result.rounds == 3
    assert StreamResult(per_round=[{"round": 1}, {"round": 2}]).rounds == 2
    assert StreamResult().rounds is None


def test_decode_data_url() -> None:
    raw = b"\x89PNG-bytes"
    encoded = base64.b64encode(raw).decode()
    assert decode_data_url("data:image/png;base64," + encoded) == raw
    assert decode_data_url(encoded) == raw
