"""What the loop tells its consumer, in order: deltas as they are generated, a `RoundFinished`
after each round (with that round's numbers and pages), and one `LoopResult` at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from PIL import Image

from renderer import encode_png

Mode = Literal["vtc", "baseline"]


@dataclass(eq=False)
class RenderedPage:
    """One page of optical memory. PNG bytes are made once, on first use, and are the same bytes
    every round (the remote engine's caches key on them)."""

    image: Image.Image
    vision_tokens: int

    @cached_property
    def png(self) -> bytes:
        return encode_png(self.image)


@dataclass(frozen=True)
class RoundStats:
    round: int
    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    pages: int  # pages rendered from this round's output (they feed the next round)
    vision_tokens: int  # vision tokens of those pages
    ttft_s: float  # round submitted -> first delta
    latency_s: float  # round submitted -> last delta
    render_s: float  # time spent rendering this round's output
    gap_s: float | None  # previous round's last token -> this round submitted (None: round 1)
    finish_reason: str | None  # the engine's

    def public(self) -> dict[str, object]:
        """The `per_round` entry of the API's `vtc` object."""
        return {
            "round": self.round,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "generated_tokens": self.generated_tokens,
            "pages": self.pages,
            "vision_tokens": self.vision_tokens,
            "ttft_s": round(self.ttft_s, 6),
            "latency_s": round(self.latency_s, 6),
            "render_s": round(self.render_s, 6),
            "gap_s": None if self.gap_s is None else round(self.gap_s, 6),
        }


@dataclass(frozen=True)
class ReasoningDelta:
    text: str
    round: int


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class RoundFinished:
    stats: RoundStats
    pages: tuple[RenderedPage, ...]


@dataclass(frozen=True)
class LoopResult:
    mode: Mode
    rounds: tuple[RoundStats, ...]
    finished: bool  # the model gave a non-empty <answer> after its final </think>
    finish_reason: Literal["stop", "length"]
    reasoning: str  # all rounds' raw text before the final </think>
    answer: str  # raw text after the final </think> (tags kept), "" if none
    final_answer: str | None  # the content of that <answer>...</answer>
    pages: tuple[RenderedPage, ...] = field(default=())
    ttft_s: float | None = None
    latency_s: float = 0.0

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.rounds)

    @property
    def completion_tokens(self) -> int:
        return sum(r.generated_tokens for r in self.rounds)

    @property
    def reasoning_tokens(self) -> int:
        """Generated tokens that were rendered to pages."""
        return sum(r.generated_tokens for r in self.rounds if r.pages)

    @property
    def vision_tokens(self) -> int:
        return sum(r.vision_tokens for r in self.rounds)

    @property
    def compression_ratio(self) -> float | None:
        return self.reasoning_tokens / self.vision_tokens if self.vision_tokens else None


LoopEvent = ReasoningDelta | AnswerDelta | RoundFinished | LoopResult
