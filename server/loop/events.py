"""What the loop tells its consumer, in order: deltas as they are generated, a `PageRendered`
for each page the moment the renderer releases it (mid-round), a `RoundFinished` after each round
(with that round's numbers and pages), and one `LoopResult` at the end."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from PIL import Image

from renderer import encode_png

Mode = Literal["vtc", "baseline"]
PageKind = Literal["reasoning", "input"]


@dataclass(eq=False)
class RenderedPage:
    """One page of optical memory. PNG bytes are made once and are the same bytes every round
    (the remote engine's caches key on them).

    Encoding costs a few milliseconds a page, so whoever needs the bytes while tokens are
    streaming calls `encode_soon()`: the encoding then runs in a worker thread (Pillow's zlib
    releases the GIL) and `await encoded()` collects it; `png` is the blocking accessor."""

    image: Image.Image
    vision_tokens: int
    _png: bytes | None = field(default=None, repr=False)
    _encoding: asyncio.Future[bytes] | None = field(default=None, repr=False)

    @property
    def png(self) -> bytes:
        if self._png is None:
            self._png = encode_png(self.image)
        return self._png

    def encode_soon(self) -> None:
        """Start encoding in the default executor (no-op when done or started)."""
        if self._png is None and self._encoding is None:
            loop = asyncio.get_running_loop()
            self._encoding = loop.run_in_executor(None, encode_png, self.image)

    async def encoded(self) -> bytes:
        if self._png is None:
            self.encode_soon()
            assert self._encoding is not None
            self._png = await asyncio.shield(self._encoding)
        return self._png

    @property
    def is_encoded(self) -> bool:
        if self._png is None and self._encoding is not None and self._encoding.done():
            self._png = self._encoding.result()
        return self._png is not None


@dataclass(frozen=True)
class InputCompression:
    """What compression did: pages made, what their text would have cost, what they cost."""

    pages: int = 0
    text_tokens: int = 0
    vision_tokens: int = 0
    render_s: float = 0.0

    @property
    def compression_ratio(self) -> float | None:
        return self.text_tokens / self.vision_tokens if self.vision_tokens else None


@dataclass(frozen=True)
class RoundStats:
    round: int
    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    # Pages the renderer released from this round's output. They feed the next round; a round
    # that ends the request may still have released some while it streamed (counted, streamed
    # with `stream_pages`, never read back).
    pages: int
    # Generated tokens whose text those pages hold: all of the round's when it was flushed; for
    # a round that ended the request, those received up to its last released page.
    rendered_tokens: int
    vision_tokens: int  # vision tokens of those pages
    ttft_s: float  # round submitted -> first delta
    latency_s: float  # round submitted -> last delta
    render_s: float  # time spent rendering this round's output
    gap_s: float | None  # previous round's last token -> this round submitted (None: round 1)
    finish_reason: str | None  # the engine's


class ReasoningDelta(NamedTuple):
    """Reasoning text as it streams. NamedTuples for the per-token events: immutable, and made
    in 0.16 us where a frozen dataclass takes 0.4."""

    text: str
    round: int
    # The request's token counts so far (all rounds, this one included), for clients that ask
    # for usage on every chunk.
    prompt_tokens: int = 0
    completion_tokens: int = 0


class AnswerDelta(NamedTuple):
    text: str


@dataclass(frozen=True)
class PageRendered:
    """A page, the moment the renderer released it. `index` is 1-based within the request (per
    kind); reasoning pages carry their round, input pages round 0."""

    page: RenderedPage
    round: int
    index: int
    kind: PageKind = "reasoning"
    # Released by the flush at the round's end: the next round is about to be submitted.
    at_round_end: bool = False


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
    round_reasoning: tuple[str, ...]  # the same, round by round
    answer: str  # raw text after the final </think> (tags kept), "" if none
    final_answer: str | None  # the content of that <answer>...</answer>
    pages: tuple[RenderedPage, ...] = field(default=())
    ttft_s: float | None = None
    latency_s: float = 0.0
    # Tokens of `answer` (counted with the model's tokenizer by the service): the rest of the
    # generated tokens are reasoning.
    answer_tokens: int = 0
    # What input compression did (None: not asked for).
    input: InputCompression | None = None

    @property
    def prompt_tokens(self) -> int:
        return sum(r.prompt_tokens for r in self.rounds)

    @property
    def completion_tokens(self) -> int:
        return sum(r.generated_tokens for r in self.rounds)

    @property
    def reasoning_tokens(self) -> int:
        """Generated tokens that were rendered to pages."""
        return sum(r.rendered_tokens for r in self.rounds)

    @property
    def vision_tokens(self) -> int:
        return sum(r.vision_tokens for r in self.rounds)

    @property
    def compression_ratio(self) -> float | None:
        return self.reasoning_tokens / self.vision_tokens if self.vision_tokens else None


LoopEvent = ReasoningDelta | AnswerDelta | PageRendered | RoundFinished | LoopResult
