"""One round being generated: its text, its pages as the renderer releases them, its numbers.

The loop (`server/loop/runner.py`) makes a `Round` per engine generation, hands it every delta
(`take`), and asks it for the round's `RoundStats` at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from renderer import RendererError
from server.engines.base import GenerationDelta
from server.loop.events import RenderedPage, RoundStats
from server.loop.output import ThinkSplitter
from server.loop.sink import PageSink

RENDER_BATCH = 64  # characters


@dataclass
class Round:
    """Book-keeping of the round being generated.

    `sink` is None when the round's output will never be read back (baseline mode, the last
    allowed round, no room for more images): it is then not rendered at all."""

    number: int
    sink: PageSink | None
    submitted: float
    gap_s: float | None
    wants_png: bool
    image_tokens: Callable[[int, int], int]
    splitter: ThinkSplitter = field(default_factory=ThinkSplitter)
    text: str = ""
    pages: list[RenderedPage] = field(default_factory=list)
    render_s: float = 0.0
    first_token: float | None = None
    last_token: float | None = None
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    finish_reason: str | None = None
    stop_sequence: str | None = None
    stop_token: int | None = None
    rendered_tokens: int = 0
    unrendered: str = ""  # text received but not yet fed to the renderer

    def take(self, delta: GenerationDelta) -> tuple[str, list[RenderedPage]]:
        """Record one engine delta: the text that is certainly reasoning, and the pages the
        renderer released because of it."""
        now = time.perf_counter()
        if self.first_token is None:
            self.first_token = now
        self.last_token = now
        self.prompt_tokens = delta.prompt_tokens
        self.cached_tokens = delta.cached_tokens
        self.generated_tokens = delta.generated_tokens
        self.finish_reason = delta.finish_reason or self.finish_reason
        self.stop_sequence = delta.stop_sequence or self.stop_sequence
        if delta.stop_token is not None:
            self.stop_token = delta.stop_token
        if not delta.text:
            return "", []
        self.text += delta.text
        return self.splitter.feed(delta.text), self.render(delta.text, final=False)

    @property
    def stopped_by_caller(self) -> bool:
        """A stop string or stop token of the caller's ended the round (not the model's EOS)."""
        return self.stop_sequence is not None or self.stop_token is not None

    def render(self, chunk: str, *, final: bool) -> list[RenderedPage]:
        """Feed the renderer (and flush it when `final`); returns the pages it released.

        The text goes in batches of at least `RENDER_BATCH` characters: the renderer's fixed
        cost per call was ~2 us of the gateway's CPU per token (capacity benchmark profile),
        and a page released a few words later changes nothing."""
        if self.sink is None:
            return []
        self.unrendered += chunk
        if not final and len(self.unrendered) < RENDER_BATCH:
            return []
        start = time.perf_counter()
        text, self.unrendered = self.unrendered, ""
        try:
            images = self.sink.feed(text) if text else []
            if final:
                images += self.sink.flush()
        except RendererError:
            raise
        except Exception as exc:
            # Odd text must not surface as a bare 500: it is a render failure, with its cause.
            raise RendererError(f"{type(exc).__name__}: {exc}") from exc
        pages = [RenderedPage(image, self.image_tokens(*image.size)) for image in images]
        if self.wants_png:
            for page in pages:
                page.encode_soon()  # in a worker thread, while the engine is still generating
        self.pages += pages
        if pages or final:
            # The released pages hold at most the text received so far.
            self.rendered_tokens = self.generated_tokens
        self.render_s += time.perf_counter() - start
        return pages

    def stats(self) -> RoundStats:
        end = self.last_token or time.perf_counter()
        return RoundStats(
            round=self.number,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            generated_tokens=self.generated_tokens,
            pages=len(self.pages),
            rendered_tokens=self.rendered_tokens if self.pages else 0,
            vision_tokens=sum(p.vision_tokens for p in self.pages),
            ttft_s=(self.first_token or end) - self.submitted,
            latency_s=end - self.submitted,
            render_s=self.render_s,
            gap_s=self.gap_s,
            finish_reason=self.finish_reason,
        )
