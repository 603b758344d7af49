"""The segment-render-reinject loop: generate a round, render its text to pages while it
streams, feed the pages back with the question, until the model answers.

`run_loop` is an async generator of `LoopEvent`s. It knows the engine port and the renderer,
nothing of HTTP. If its consumer stops iterating (client gone), closing the generator closes the
engine stream, which aborts the engine request at once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from renderer import PageStream, RendererError
from server.engines.base import Engine, GenerationParams
from server.loop.events import (
    AnswerDelta,
    LoopEvent,
    LoopResult,
    ReasoningDelta,
    RenderedPage,
    RoundFinished,
    RoundStats,
)
from server.loop.output import ThinkSplitter, is_finished, split_output
from server.loop.prompt import build_round_messages, count_user_images
from server.loop.request import LoopRequest


class PageSink(Protocol):
    """The incremental renderer, as the loop uses it (`renderer.PageStream`)."""

    def feed(self, chunk: str) -> list[Image.Image]: ...

    def flush(self) -> list[Image.Image]: ...


PageSinkFactory = Callable[[int], PageSink]  # max pages -> a fresh sink


def default_page_sink(max_pages: int) -> PageSink:
    return PageStream(max_pages=max_pages)


def warm_up_renderer() -> None:
    """Render one page so fonts, glyph atlas and the native kernels are loaded (the kernels
    compile on first use: ~0.4 s, which would otherwise land in the first request's gap)."""
    sink = default_page_sink(1)
    sink.feed("warm up: x^2 + y^2 = z^2, \\frac{a}{b} </think>")
    sink.flush()


@dataclass
class _Round:
    """Book-keeping of the round being generated."""

    number: int
    sink: PageSink | None
    submitted: float
    gap_s: float | None
    wants_png: bool
    image_tokens: Callable[[int, int], int]
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

    def render(self, chunk: str, *, final: bool) -> None:
        if self.sink is None:
            return
        start = time.perf_counter()
        try:
            images = self.sink.feed(chunk) if chunk else []
            if final:
                images += self.sink.flush()
        except RendererError:
            raise
        except Exception as exc:
            # Odd text must not surface as a bare 500: it is a render failure, with its cause.
            raise RendererError(f"{type(exc).__name__}: {exc}") from exc
        for image in images:
            page = RenderedPage(image, self.image_tokens(*image.size))
            if self.wants_png:
                _ = page.png  # encode now, while the engine is still generating
            self.pages.append(page)
        self.render_s += time.perf_counter() - start

    def stats(self, pages: list[RenderedPage]) -> RoundStats:
        end = self.last_token or time.perf_counter()
        return RoundStats(
            round=self.number,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached_tokens,
            generated_tokens=self.generated_tokens,
            pages=len(pages),
            vision_tokens=sum(p.vision_tokens for p in pages),
            ttft_s=(self.first_token or end) - self.submitted,
            latency_s=end - self.submitted,
            render_s=self.render_s,
            gap_s=self.gap_s,
            finish_reason=self.finish_reason,
        )


async def run_loop(
    request: LoopRequest,
    engine: Engine,
    *,
    page_sink: PageSinkFactory = default_page_sink,
) -> AsyncGenerator[LoopEvent, None]:
    options = request.options
    started = time.perf_counter()
    budget = request.token_budget()
    baseline = options.mode == "baseline"
    wants_png = engine.info.wants_png
    memory: list[RenderedPage] = []
    stats: list[RoundStats] = []
    reasoning: list[str] = []
    first_token: float | None = None
    previous_end: float | None = None
    user_images = count_user_images(request)

    number = 0
    while True:
        number += 1
        room = options.max_images_per_prompt - user_images - len(memory)
        max_pages = min(options.max_pages_per_round, room)
        render = not baseline and number < options.max_rounds and max_pages > 0
        round_tokens = budget if baseline else min(options.round_max_tokens, budget)
        messages = build_round_messages(request, memory, with_png=wants_png)
        params = GenerationParams(
            max_tokens=round_tokens,
            temperature=request.sampling.temperature,
            top_p=request.sampling.top_p,
            seed=request.sampling.seed,
            stop=request.sampling.stop,
        )
        now = time.perf_counter()
        current = _Round(
            number=number,
            sink=page_sink(max_pages) if render else None,
            submitted=now,
            gap_s=None if previous_end is None else now - previous_end,
            wants_png=wants_png,
            image_tokens=engine.info.image_tokens,
        )
        splitter = ThinkSplitter()
        stream = engine.generate(
            messages, params, f"{request.request_id}-{number}", session_id=request.request_id
        )
        async with aclosing(stream):
            async for delta in stream:
                now = time.perf_counter()
                if current.first_token is None:
                    current.first_token = now
                    first_token = first_token or now
                current.last_token = now
                current.prompt_tokens = delta.prompt_tokens
                current.cached_tokens = delta.cached_tokens
                current.generated_tokens = delta.generated_tokens
                current.finish_reason = delta.finish_reason or current.finish_reason
                current.stop_sequence = delta.stop_sequence or current.stop_sequence
                if delta.text:
                    current.text += delta.text
                    sure = splitter.feed(delta.text)
                    if sure:
                        yield ReasoningDelta(sure, number)
                    current.render(delta.text, final=False)
        previous_end = current.last_token or time.perf_counter()
        budget -= current.generated_tokens

        finished = is_finished(current.text)
        more = (
            not finished
            and render
            and budget > 0
            and current.stop_sequence is None
            and current.finish_reason != "abort"
        )
        if more:
            current.render("", final=True)
            more = bool(current.pages)
        new_pages = current.pages if more else []
        round_stats = current.stats(new_pages)
        stats.append(round_stats)

        held = splitter.finish()
        if more:
            reasoning.append(current.text)
            if held:
                yield ReasoningDelta(held, number)
            memory.extend(new_pages)
            yield RoundFinished(round_stats, tuple(new_pages))
            continue

        split = split_output(current.text)
        streamed = len(current.text) - len(held)
        rest = split.reasoning[streamed:]
        if rest:
            yield ReasoningDelta(rest, number)
        reasoning.append(split.reasoning)
        yield RoundFinished(round_stats, ())
        if split.answer:
            yield AnswerDelta(split.answer)
        yield LoopResult(
            mode=options.mode,
            rounds=tuple(stats),
            finished=finished,
            finish_reason="stop" if finished or current.stop_sequence else "length",
            reasoning="".join(reasoning),
            answer=split.answer,
            final_answer=split.final_answer,
            pages=tuple(memory),
            ttft_s=None if first_token is None else first_token - started,
            latency_s=time.perf_counter() - started,
        )
        return
