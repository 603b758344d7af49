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
    return body


def encode_body(
    model: str, messages: Sequence[ChatMessage], params: GenerationParams, request_id: str
) -> bytes:
    return json.dumps(chat_body(model, messages, params, request_id)).encode()
