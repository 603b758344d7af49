"""The segment-render-reinject loop: generate a round, render its text to pages while it
streams, feed the pages back with the question, until the model answers.

`run_loop` is an async generator of `LoopEvent`s. It knows the engine port and the renderer,
nothing of HTTP. If its consumer stops iterating (client gone), closing the generator closes the
engine stream, which aborts the engine request at once.

Each round has three phases, each a method of `_Request` (the request's book-keeping):
`start_round` (what to send and whether to render), the streaming step (`Round.take` per engine
delta, inline below: it is the per-token path), and `end_round` (go on, or end the request).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Iterator
from contextlib import aclosing
from dataclasses import dataclass, field

from server.engines.base import Engine, GenerationDelta, GenerationParams
from server.loop.compress import PromptTooLarge, compress_input, prompt_tokens
from server.loop.events import (
    AnswerDelta,
    InputCompression,
    LoopEvent,
    LoopResult,
    PageRendered,
    ReasoningDelta,
    RenderedPage,
    RoundFinished,
    RoundStats,
)
from server.loop.output import is_finished
from server.loop.prompt import build_round_messages, count_user_images
from server.loop.request import CompressInput, LoopRequest
from server.loop.round import Round
from server.loop.sink import PageSink, PageSinkFactory, default_page_sink, warm_up_renderer

__all__ = ["PageSink", "PageSinkFactory", "default_page_sink", "run_loop", "warm_up_renderer"]


async def run_loop(
    request: LoopRequest,
    engine: Engine,
    *,
    page_sink: PageSinkFactory = default_page_sink,
) -> AsyncGenerator[LoopEvent, None]:
    state = _Request(request, engine, page_sink)
    if request.options.compress_input is not None:
        for input_page in await state.compress_input(request.options.compress_input):
            yield input_page
    while not state.done:
        current, stream = await state.start_round()
        async with aclosing(stream):
            async for delta in stream:
                reasoning, pages = current.take(delta)
                if reasoning:
                    yield ReasoningDelta(
                        reasoning,
                        current.number,
                        state.prompted + delta.prompt_tokens,
                        state.generated + delta.generated_tokens,
                    )
                for page in pages:
                    yield state.released(page, current.number)
        for event in state.end_round(current):
            yield event


@dataclass
class _Request:
    """What one request has done so far: token budget, optical memory, per-round numbers."""

    request: LoopRequest
    engine: Engine
    page_sink: PageSinkFactory
    started: float = field(default_factory=time.perf_counter)
    memory: list[RenderedPage] = field(default_factory=list)
    stats: list[RoundStats] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    first_token: float | None = None
    previous_end: float | None = None
    pages_released: int = 0
    done: bool = False
    input: InputCompression | None = None

    def __post_init__(self) -> None:
        self.budget = self.request.token_budget()
        self.generated = 0  # tokens of the finished rounds
        self.prompted = 0  # prompt tokens of the finished rounds
        self.user_images = count_user_images(self.request)

    # --- before round 1 ---

    async def compress_input(self, how: CompressInput) -> list[PageRendered]:
        """Render the long input once; every round then sends the same pages."""
        compressed = await compress_input(self.request.messages, how, self.engine)
        self.request = dataclasses.replace(self.request, messages=compressed.messages)
        self.user_images = count_user_images(self.request)
        self.input = compressed.stats
        if compressed.pages:
            await self._check_fits()
        return [
            PageRendered(page, 0, index, kind="input")
            for index, page in enumerate(compressed.pages, 1)
        ]

    async def _check_fits(self) -> None:
        """Fail before round 1 if the compressed prompt cannot be served."""
        options = self.request.options
        if self.user_images > options.max_images_per_prompt:
            raise PromptTooLarge(
                f"the input makes {self.user_images} images; the engine takes at most "
                f"{options.max_images_per_prompt} per prompt"
            )
        needed = await prompt_tokens(self.request, self.engine)
        limit = self.engine.info.max_model_len
        if needed >= limit:
            raise PromptTooLarge(
                f"the compressed prompt needs {needed} tokens; the engine's context is {limit}"
            )

    # --- round set-up ---

    async def start_round(self) -> tuple[Round, AsyncGenerator[GenerationDelta, None]]:
        """Decide whether this round will be rendered, build its prompt, submit it."""
        options, sampling = self.request.options, self.request.sampling
        number = len(self.stats) + 1
        baseline = options.mode == "baseline"
        room = options.max_images_per_prompt - self.user_images - len(self.memory)
        max_pages = min(options.max_pages_per_round, room)
        render = not baseline and number < options.max_rounds and max_pages > 0
        wants_png = self.engine.info.wants_png
        if wants_png:
            # Pages were encoded in worker threads while their rounds streamed.
            await asyncio.gather(*(page.encoded() for page in self.memory))
        messages = build_round_messages(self.request, self.memory, with_png=wants_png)
        max_tokens = self.budget if baseline else min(options.round_max_tokens, self.budget)
        params = GenerationParams(
            max_tokens=max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=sampling.seed,
            stop=sampling.stop,
            ignore_eos=sampling.ignore_eos,
            # min_tokens counts over the request: what earlier rounds did not generate yet.
            min_tokens=min(max_tokens, max(0, sampling.min_tokens - self.generated)),
            top_k=sampling.top_k,
            min_p=sampling.min_p,
            repetition_penalty=sampling.repetition_penalty,
            stop_token_ids=sampling.stop_token_ids,
        )
        now = time.perf_counter()
        current = Round(
            number=number,
            sink=self.page_sink(max_pages) if render else None,
            submitted=now,
            gap_s=None if self.previous_end is None else now - self.previous_end,
            wants_png=wants_png,
            image_tokens=self.engine.info.image_tokens,
        )
        request_id = f"{self.request.request_id}-{number}"
        stream = self.engine.generate(
            messages, params, request_id, session_id=self.request.request_id
        )
        return current, stream

    def released(self, page: RenderedPage, number: int, *, at_end: bool = False) -> PageRendered:
        self.pages_released += 1
        return PageRendered(page, number, self.pages_released, at_round_end=at_end)

    # --- end-of-round decision ---

    def end_round(self, current: Round) -> Iterator[LoopEvent]:
        """Go on with the round's pages as memory, or end the request with its answer."""
        if self.first_token is None:
            self.first_token = current.first_token
        self.previous_end = current.last_token or time.perf_counter()
        self.budget -= current.generated_tokens
        self.generated += current.generated_tokens
        self.prompted += current.prompt_tokens
        if self._goes_on(current):
            pages = current.render("", final=True)
            for page in pages:
                yield self.released(page, current.number, at_end=True)
            if current.pages:
                yield from self._continue(current)
                return
        yield from self._finish(current)

    def _goes_on(self, current: Round) -> bool:
        """Another round follows unless the model answered, the round was not rendered (last
        allowed round, baseline, no room for images), the budget is spent, or the round was
        stopped by the caller or aborted. (A round that renders no page also ends it.)"""
        return (
            not is_finished(current.text)
            and current.sink is not None
            and self.budget > 0
            and not current.stopped_by_caller
            and current.finish_reason != "abort"
        )

    def _continue(self, current: Round) -> Iterator[LoopEvent]:
        stats = current.stats()
        self.stats.append(stats)
        self.reasoning.append(current.text)
        held = current.splitter.finish()
        if held:
            yield ReasoningDelta(held, current.number)
        self.memory.extend(current.pages)
        yield RoundFinished(stats, tuple(current.pages))

    def _finish(self, current: Round) -> Iterator[LoopEvent]:
        stats = current.stats()
        self.stats.append(stats)
        rest, split = current.splitter.finish_final(current.text)
        if rest:
            yield ReasoningDelta(rest, current.number)
        self.reasoning.append(split.reasoning)
        yield RoundFinished(stats, tuple(current.pages))
        if split.answer:
            yield AnswerDelta(split.answer)
        finished = is_finished(current.text)
        self.done = True
        yield LoopResult(
            mode=self.request.options.mode,
            rounds=tuple(self.stats),
            finished=finished,
            finish_reason="stop" if finished or current.stopped_by_caller else "length",
            reasoning="".join(self.reasoning),
            round_reasoning=tuple(self.reasoning),
            answer=split.answer,
            final_answer=split.final_answer,
            pages=(*self.memory, *current.pages),
            ttft_s=None if self.first_token is None else self.first_token - self.started,
            latency_s=time.perf_counter() - self.started,
            input=self.input,
        )
