"""The chat-completion request a remote replica gets for one generation.

It is encoded once and the same bytes go to every attempt (a retry on another replica sends
exactly what the first one got).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from server.engines.base import ChatMessage, GenerationParams
from server.engines.prompt import openai_messages


def chat_body(
    model: str, messages: Sequence[ChatMessage], params: GenerationParams, request_id: str
) -> dict[str, Any]:
    """The request body: streaming with usage on every chunk, vLLM's extras for the raw text."""
    body: dict[str, Any] = {
        "model": model,
        "messages": openai_messages(messages),
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        # vLLM extras: keep </think> & co. in the text; one id end to end in the logs.
        "skip_special_tokens": params.skip_special_tokens,
        "spaces_between_special_tokens": False,
        "request_id": request_id,
    }
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    body.update(sampling_extensions(params))
    return body


def sampling_extensions(params: GenerationParams) -> dict[str, Any]:
    """vLLM's sampling extensions, always sent: a field left out would take the replica's
    generation-config default (`--generation-config auto`), which the in-process engine, whose
    `SamplingParams` are built here, never applies."""
    return {
        "ignore_eos": params.ignore_eos,
        "min_tokens": params.min_tokens,
        "top_k": params.top_k or 0,  # vLLM: 0 is off
        "min_p": params.min_p,
        "repetition_penalty": params.repetition_penalty,
        "stop_token_ids": list(params.stop_token_ids),
    }


def encode_body(
    model: str, messages: Sequence[ChatMessage], params: GenerationParams, request_id: str
) -> bytes:
    return json.dumps(chat_body(model, messages, params, request_id)).encode()
