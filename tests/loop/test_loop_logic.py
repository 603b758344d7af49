"""The loop's branches, on a scripted engine and a counting page sink."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from PIL import Image

from server.engines.base import ChatMessage, ImagePart, TextPart
from server.loop.events import (
    AnswerDelta,
    LoopEvent,
    LoopResult,
    PageRendered,
    ReasoningDelta,
    RoundFinished,
)
from server.loop.request import LoopOptions, LoopRequest, Sampling
from server.loop.runner import PageSink, run_loop
from server.settings import VTC_SYSTEM_PROMPT
from tests.support.scripted import IMAGE_TOKENS, ScriptedEngine

QUESTION = "What is 2 + 3 ?"


class CountingSink:
    """One 40x20 page per 30 characters fed; the rest on flush (nothing for empty text)."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.buffer = ""
        self.emitted = 0

    def _take(self, final: bool) -> list[Image.Image]:
        pages = []
        while len(self.buffer) >= 30 or (final and self.buffer.strip()):
            if self.emitted >= self.max_pages:
                break
            self.buffer = self.buffer[30:]
            self.emitted += 1
            pages.append(Image.new("RGB", (40, 20), "white"))
        return pages

    def feed(self, chunk: str) -> list[Image.Image]:
        self.buffer += chunk
        return self._take(final=False)

    def flush(self) -> list[Image.Image]:
        return self._take(final=True)


def sink(max_pages: int) -> PageSink:
    return CountingSink(max_pages)


def request(**options: object) -> LoopRequest:
    sampling = options.pop("sampling", Sampling())
    assert isinstance(sampling, Sampling)
    return LoopRequest(
        request_id="req",
        messages=(ChatMessage("user", (TextPart(QUESTION),)),),
        sampling=sampling,
        options=LoopOptions(**options),  # type: ignore[arg-type]
    )


async def collect(req: LoopRequest, engine: ScriptedEngine) -> list[LoopEvent]:
    return [event async for event in run_loop(req, engine, page_sink=sink)]


def result_of(events: list[LoopEvent]) -> LoopResult:
    last = events[-1]
    assert isinstance(last, LoopResult)
    return last


def streamed(events: list[LoopEvent]) -> tuple[str, str]:
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    answer = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    return reasoning, answer


UNFINISHED = "let me think about this problem step by step carefully"  # 54 chars: 2 pages
FINAL = "so it is five </think> The answer is 5. <answer>5</answer>"


async def test_finishes_on_round_k_and_feeds_pages_back() -> None:
    engine = ScriptedEngine([UNFINISHED, UNFINISHED, FINAL])
    events = await collect(request(), engine)
    result = result_of(events)
    assert result.finished and result.finish_reason == "stop"
    assert [r.round for r in result.rounds] == [1, 2, 3]
    # The answering round is too short to release a page while it streams (the renderer is fed
    # 64 characters at a time): nothing of it is rendered.
    assert [r.pages for r in result.rounds] == [2, 2, 0]
    assert result.final_answer == "5"
    assert result.answer == "The answer is 5. <answer>5</answer>"
    assert result.reasoning == UNFINISHED + UNFINISHED + "so it is five "
    assert streamed(events) == (result.reasoning, result.answer)
    # Round k's prompt carries all pages of rounds < k, images first, then the question.
    user_parts = [call[0][-1].parts for call in engine.calls]
    assert [sum(isinstance(p, ImagePart) for p in parts) for parts in user_parts] == [0, 2, 4]
    assert isinstance(user_parts[2][0], ImagePart) and user_parts[2][-1] == TextPart(QUESTION)
    assert engine.calls[0][0][0] == ChatMessage("system", (TextPart(VTC_SYSTEM_PROMPT),))
    # Every round of one request shares the session (remote replica affinity).
    assert {call[3] for call in engine.calls} == {"req"}
    assert len({call[2] for call in engine.calls}) == 3
    # Accounting: pages' vision tokens, rendered text tokens, ratio.
    assert result.vision_tokens == 4 * IMAGE_TOKENS
    assert result.reasoning_tokens == 2 * len(UNFINISHED.split())
    assert result.compression_ratio == pytest.approx(result.reasoning_tokens / (4 * IMAGE_TOKENS))
    assert result.prompt_tokens == sum(r.prompt_tokens for r in result.rounds)
    assert result.rounds[1].prompt_tokens - result.rounds[0].prompt_tokens == 2 * IMAGE_TOKENS
    assert result.rounds[0].gap_s is None and result.rounds[1].gap_s is not None


async def test_round_events_come_in_order() -> None:
    events = await collect(request(), ScriptedEngine([UNFINISHED, FINAL]))
    kinds = [type(e).__name__ for e in events]
    first_round_end = kinds.index("RoundFinished")
    assert set(kinds[:first_round_end]) == {"ReasoningDelta", "PageRendered"}
    assert kinds[-3:] == ["RoundFinished", "AnswerDelta", "LoopResult"]
    finished_events = [e for e in events if isinstance(e, RoundFinished)]
    assert [len(e.pages) for e in finished_events] == [2, 0]


async def test_question_first_order() -> None:
    engine = ScriptedEngine([UNFINISHED, FINAL])
    await collect(request(image_order="question_first"), engine)
    parts = engine.calls[1][0][-1].parts
    assert parts[0] == TextPart(QUESTION)
    assert all(isinstance(p, ImagePart) for p in parts[1:])


async def test_think_end_without_answer_goes_on() -> None:
    engine = ScriptedEngine(["thinking hard </think> no tags here at all", FINAL])
    result = result_of(await collect(request(), engine))
    assert result.finished and len(result.rounds) == 2
    assert result.reasoning.startswith("thinking hard </think> no tags")


async def test_empty_answer_goes_on() -> None:
    engine = ScriptedEngine(["done </think> <answer> </answer> and that is it", FINAL])
    result = result_of(await collect(request(), engine))
    assert result.finished and len(result.rounds) == 2


async def test_answer_before_think_end_is_not_finished() -> None:
    engine = ScriptedEngine(["<answer>5</answer> but wait </think> hmm, let me go on", FINAL])
    result = result_of(await collect(request(), engine))
    assert len(result.rounds) == 2 and result.finished


async def test_render_yields_nothing_ends_loop() -> None:
    engine = ScriptedEngine(["   ", FINAL])
    result = result_of(await collect(request(), engine))
    assert len(result.rounds) == 1 and not result.finished
    assert result.finish_reason == "length" and result.rounds[0].pages == 0
    assert len(engine.outputs) == 1  # the second round never ran


async def test_max_rounds_returns_last_output_as_is() -> None:
    last = "still going </think> maybe 4"
    engine = ScriptedEngine([UNFINISHED, UNFINISHED, last])
    events = await collect(request(max_rounds=3), engine)
    result = result_of(events)
    assert len(result.rounds) == 3 and not result.finished
    assert result.finish_reason == "length"
    assert result.answer == "maybe 4" and result.final_answer is None
    assert result.rounds[-1].pages == 0  # the last round is never rendered
    assert streamed(events) == (result.reasoning, result.answer)


async def test_token_budget_is_shared_by_rounds() -> None:
    engine = ScriptedEngine([UNFINISHED, UNFINISHED, FINAL])
    result = result_of(
        await collect(request(round_max_tokens=6, sampling=Sampling(max_tokens=10)), engine)
    )
    assert [c[1].max_tokens for c in engine.calls] == [6, 4]
    assert result.completion_tokens == 10 and result.finish_reason == "length"


async def test_stop_sequence_ends_the_loop() -> None:
    engine = ScriptedEngine(["think more STOP and more", FINAL])
    result = result_of(await collect(request(sampling=Sampling(stop=("STOP",))), engine))
    assert len(result.rounds) == 1 and result.finish_reason == "stop"
    assert result.reasoning == "think more "


async def test_baseline_is_one_generation_with_the_whole_budget() -> None:
    engine = ScriptedEngine([UNFINISHED + " " + FINAL])
    result = result_of(await collect(request(mode="baseline", max_rounds=3), engine))
    assert len(engine.calls) == 1 and engine.calls[0][1].max_tokens == 3 * 8192
    assert result.finished and result.vision_tokens == 0 and result.compression_ratio is None
    assert result.mode == "baseline"


async def test_pages_per_round_and_images_per_prompt_are_bounded() -> None:
    engine = ScriptedEngine([UNFINISHED * 3, UNFINISHED * 3, UNFINISHED, FINAL])
    bounded = request(max_pages_per_round=2, max_images_per_prompt=3)
    result = result_of(await collect(bounded, engine))
    # Round 3 still runs with the full memory but has no room to render: the loop ends there.
    assert [r.pages for r in result.rounds] == [2, 1, 0]
    assert result.finish_reason == "length" and len(engine.outputs) == 1


async def test_user_images_and_history_are_kept() -> None:
    picture = Image.new("RGB", (30, 30), "red")
    req = LoopRequest(
        request_id="r",
        messages=(
            ChatMessage("system", (TextPart("Be brief."),)),
            ChatMessage("user", (TextPart("hi"),)),
            ChatMessage("assistant", (TextPart("hello"),)),
            ChatMessage("user", (TextPart(QUESTION), ImagePart(picture))),
        ),
    )
    engine = ScriptedEngine([UNFINISHED, FINAL])
    await collect(req, engine)
    messages = engine.calls[1][0]
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0].parts == (TextPart(VTC_SYSTEM_PROMPT + "\n\nBe brief."),)
    parts = messages[-1].parts
    assert isinstance(parts[0], ImagePart) and parts[0].image is picture
    assert sum(isinstance(p, ImagePart) for p in parts) == 3 and parts[-1] == TextPart(QUESTION)


async def test_closing_the_stream_aborts_the_engine_request() -> None:
    gate = asyncio.Event()
    gate.set()
    engine = ScriptedEngine([UNFINISHED, FINAL], gate=gate)
    events = run_loop(request(), engine, page_sink=sink)
    first = await anext(events)
    assert isinstance(first, ReasoningDelta)
    gate.clear()  # the engine now waits between tokens, as a real one does
    await events.aclose()
    assert engine.running == set()
    assert engine.aborted == ["req-1"]
    assert len(engine.outputs) == 1  # no further round was started


async def test_pages_are_released_mid_round_once_each_in_order() -> None:
    long_final = "so " * 40 + FINAL  # long enough to release pages before it answers
    engine = ScriptedEngine([UNFINISHED * 3, UNFINISHED, long_final])
    events = await collect(request(), engine)
    result = result_of(events)
    released = [e for e in events if isinstance(e, PageRendered)]
    assert [e.index for e in released] == list(range(1, len(released) + 1))
    assert [e.round for e in released] == sorted(e.round for e in released)
    assert len(released) == sum(r.pages for r in result.rounds)
    assert [e.page for e in released] == list(result.pages)
    # The answering round released pages while it streamed: counted, never read back.
    assert result.rounds[2].pages >= 1 and result.finished
    assert 0 < result.rounds[2].rendered_tokens < result.rounds[2].generated_tokens
    # Mid-round: round 1's first page comes before round 1's last reasoning delta.
    kinds = [type(e).__name__ for e in events]
    first_page, round_end = kinds.index("PageRendered"), kinds.index("RoundFinished")
    assert "ReasoningDelta" in kinds[first_page:round_end]
    # The memory read back is only the pages of the rounds that went on.
    read_back = result.rounds[0].pages + result.rounds[1].pages
    assert sum(isinstance(p, ImagePart) for p in engine.calls[2][0][-1].parts) == read_back


async def test_pages_are_encoded_off_the_event_loop_for_remote_engines() -> None:
    engine = ScriptedEngine([UNFINISHED, FINAL])
    engine.info = dataclasses.replace(engine.info, wants_png=True)
    await collect(request(), engine)
    pages = [p for p in engine.calls[1][0][-1].parts if isinstance(p, ImagePart)]
    assert len(pages) == 2 and all(p.png and p.png.startswith(b"\x89PNG") for p in pages)
