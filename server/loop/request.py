"""What one VTC request asks of the loop (already validated and decoded by the API layer)."""

from __future__ import annotations

from dataclasses import dataclass

from server.engines.base import ChatMessage
from server.loop.events import Mode
from server.settings import VTC_SYSTEM_PROMPT, ImageOrder


@dataclass(frozen=True)
class LoopOptions:
    mode: Mode = "vtc"
    max_rounds: int = 8
    round_max_tokens: int = 8192
    image_order: ImageOrder = "images_first"
    system_prompt: str = VTC_SYSTEM_PROMPT
    # Bounds on optical memory: pages one round may render, and images one prompt may carry
    # (user images + all pages; the engine refuses more).
    max_pages_per_round: int = 32
    max_images_per_prompt: int = 64


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.6
    top_p: float = 0.95
    seed: int | None = None
    stop: tuple[str, ...] = ()
    # Total new tokens over all rounds (OpenAI's max_tokens); None: max_rounds * round_max_tokens.
    max_tokens: int | None = None


@dataclass(frozen=True)
class LoopRequest:
    request_id: str
    messages: tuple[ChatMessage, ...]  # the conversation; the last one is the user's question
    sampling: Sampling = Sampling()
    options: LoopOptions = LoopOptions()

    def token_budget(self) -> int:
        cap = self.options.max_rounds * self.options.round_max_tokens
        return cap if self.sampling.max_tokens is None else min(cap, self.sampling.max_tokens)
