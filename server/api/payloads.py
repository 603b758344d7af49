"""The JSON the API sends back: completion objects, stream chunks, and the `vtc` object."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from server.loop.events import LoopResult, RenderedPage, RoundStats
from server.settings import ReasoningFields


def page_data_urls(pages: Iterable[RenderedPage]) -> list[str]:
    return ["data:image/png;base64," + base64.b64encode(p.png).decode("ascii") for p in pages]


def vtc_object(result: LoopResult, *, return_pages: bool) -> dict[str, Any]:
    ratio = result.compression_ratio
    body: dict[str, Any] = {
        "mode": result.mode,
        "rounds": len(result.rounds),
        "finished": result.finished,
        "pages": sum(r.pages for r in result.rounds),
        "reasoning_tokens": result.reasoning_tokens,
        "vision_tokens": result.vision_tokens,
        "compression_ratio": None if ratio is None else round(ratio, 6),
        "final_answer": result.final_answer,
        "ttft_s": None if result.ttft_s is None else round(result.ttft_s, 6),
        "latency_s": round(result.latency_s, 6),
        "per_round": [r.public() for r in result.rounds],
    }
    if return_pages:
        body["page_images"] = page_data_urls(result.pages)
    return body


def usage(result: LoopResult) -> dict[str, Any]:
    return {
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "total_tokens": result.prompt_tokens + result.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": sum(r.cached_tokens for r in result.rounds)},
    }


def reasoning_fields(text: str, which: ReasoningFields) -> dict[str, str]:
    if which == "both":
        return {"reasoning_content": text, "reasoning": text}
    return {which: text}


@dataclass(frozen=True)
class Envelope:
    """The fields every object of one response shares."""

    id: str
    model: str
    created: int
    reasoning: ReasoningFields

    @classmethod
    def new(cls, request_id: str, model: str, reasoning: ReasoningFields) -> Envelope:
        return cls(request_id, model, int(time.time()), reasoning)

    def completion(self, result: LoopResult, *, return_pages: bool) -> dict[str, Any]:
        message = {
            "role": "assistant",
            "content": result.answer,
            **reasoning_fields(result.reasoning, self.reasoning),
        }
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": result.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": usage(result),
            "vtc": vtc_object(result, return_pages=return_pages),
        }

    def chunk(
        self,
        delta: dict[str, Any] | None = None,
        *,
        finish_reason: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        choices = (
            []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
        )
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            **extra,
        }

    def reasoning_chunk(self, text: str) -> dict[str, Any]:
        return self.chunk(reasoning_fields(text, self.reasoning))

    def round_chunk(
        self, stats: RoundStats, pages: Iterable[RenderedPage], *, return_pages: bool
    ) -> dict[str, Any]:
        marker: dict[str, Any] = stats.public()
        if return_pages:
            marker["page_images"] = page_data_urls(pages)
        return self.chunk({}, vtc=marker)
