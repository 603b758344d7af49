"""What one VTC request asks of the loop (already validated and decoded by the API layer).

The defaults are the server's (`server/settings.py`, the one place they are written); the API
fills every field from the request and the settings, so these defaults matter only to code that
drives the loop directly (benchmarks, tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from server.engines.base import ChatMessage
from server.loop.events import Mode
from server.settings import ImageOrder, Settings

_DEFAULTS: dict[str, Any] = {name: f.default for name, f in Settings.model_fields.items()}


Scope = Literal["documents", "history", "all"]


@dataclass(frozen=True)
class CompressInput:
    """What the request asks: the threshold, the scope, and which part of the last user message
    is the question (its index among the message's parts; None: the last text part)."""

    min_tokens: int = 2048
    scope: Scope = "documents"
    keep: int | None = None


@dataclass(frozen=True)
class LoopOptions:
    mode: Mode = "vtc"
    max_rounds: int = _DEFAULTS["max_rounds"]
    round_max_tokens: int = _DEFAULTS["round_max_tokens"]
    image_order: ImageOrder = _DEFAULTS["image_order"]
    system_prompt: str = _DEFAULTS["system_prompt"]
    # Bounds on optical memory: pages one round may render, and images one prompt may carry
    # (user images + all pages; the engine refuses more).
    max_pages_per_round: int = _DEFAULTS["max_pages_per_round"]
    max_images_per_prompt: int = _DEFAULTS["max_images_per_prompt"]
    # Render long input text to pages before round 1 (None: off).
    compress_input: CompressInput | None = None


@dataclass(frozen=True)
class Sampling:
    temperature: float = _DEFAULTS["temperature"]
    top_p: float = _DEFAULTS["top_p"]
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Total new tokens over all rounds (OpenAI's max_tokens); None: max_rounds * round_max_tokens.
    max_tokens: int | None = None
    # vLLM's sampling extensions (server/api/protocol/sampling.py says what each means here).
    ignore_eos: bool = False
    min_tokens: int = 0
    top_k: int | None = None
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    stop_token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class LoopRequest:
    request_id: str
    messages: tuple[ChatMessage, ...]  # the conversation; the last one is the user's question
    sampling: Sampling = Sampling()
    options: LoopOptions = LoopOptions()

    def token_budget(self) -> int:
        cap = self.options.max_rounds * self.options.round_max_tokens
        return cap if self.sampling.max_tokens is None else min(cap, self.sampling.max_tokens)
