"""Input compression in the loop, on a scripted engine and the real renderer: what is rendered,
what stays text, the accounting, the same pages every round, and the limits."""

from __future__ import annotations

import dataclasses

import pytest
from PIL import Image

from server.engines.base import ChatMessage, ImagePart, TextPart
from server.loop.compress import PromptTooLarge
from server.loop.events import LoopEvent, LoopResult, PageRendered
from server.loop.request import CompressInput, LoopOptions, LoopRequest
from server.loop.runner import run_loop
from tests.support.scripted import IMAGE_TOKENS, ScriptedEngine, tokens_of

DOCUMENT = "The committee met on Tuesday to review the budget and the plan. " * 300  # ~3.6k words
QUESTION = "What did the committee review?"
UNFINISHED = "let me think about this problem step by step carefully"
FINAL = "it reviewed the budget </think> The budget. <answer>the budget</answer>"


def request(*messages: ChatMessage, **how: object) -> LoopRequest:
    return LoopRequest(
        request_id="req",
        messages=messages,
        options=LoopOptions(compress_input=CompressInput(**how)),  # type: ignore[arg-type]
    )


def user(*parts: TextPart | ImagePart) -> ChatMessage:
    return ChatMessage("user", tuple(parts))


async def run(req: LoopRequest, engine: ScriptedEngine) -> list[LoopEvent]:
    return [event async for event in run_loop(req, engine)]


def result_of(events: list[LoopEvent]) -> LoopResult:
    assert isinstance(events[-1], LoopResult)
    return events[-1]


async def test_a_long_document_becomes_pages_in_place_and_the_question_stays_text() -> None:
    engine = ScriptedEngine([UNFINISHED, FINAL])
    events = await run(request(user(TextPart(DOCUMENT), TextPart(QUESTION))), engine)
    result = result_of(events)
    inputs = [e for e in events if isinstance(e, PageRendered) and e.kind == "input"]
    assert inputs and all(e.round == 0 for e in inputs)
    assert [e.index for e in inputs] == list(range(1, len(inputs) + 1))
    assert events.index(inputs[-1]) < 2 + len(inputs)  # before round 1's first event
    stats = result.input
    assert stats is not None and stats.pages == len(inputs) >= 2
    assert stats.text_tokens == len(tokens_of(DOCUMENT))  # the scripted tokenizer: words
    assert stats.vision_tokens == IMAGE_TOKENS * stats.pages
    assert stats.compression_ratio == stats.text_tokens / stats.vision_tokens
    assert stats.render_s > 0
    # Round 1: the pages take the document's place, the question stays text, last.
    parts = engine.calls[0][0][-1].parts
    assert [type(p).__name__ for p in parts] == ["ImagePart"] * stats.pages + ["TextPart"]
    assert parts[-1] == TextPart(QUESTION)
    assert all(
        p.text != DOCUMENT for m in engine.calls[0][0] for p in m.parts if isinstance(p, TextPart)
    )
    # Round 2 re-sends the very same input images first, then round 1's page.
    round_two = [p for p in engine.calls[1][0][-1].parts if isinstance(p, ImagePart)]
    assert [p.image for p in round_two[: stats.pages]] == [e.page.image for e in inputs]
    assert len(round_two) == stats.pages + result.rounds[0].pages


async def test_short_parts_stay_text_and_nothing_is_reported_as_compressed() -> None:
    engine = ScriptedEngine([FINAL])
    req = request(user(TextPart("a short note"), TextPart(QUESTION)), min_tokens=50)
    result = result_of(await run(req, engine))
    assert result.input is not None and result.input.pages == 0
    assert result.input.compression_ratio is None
    assert engine.calls[0][0][-1].parts == (TextPart("a short note"), TextPart(QUESTION))


async def test_the_part_marked_keep_stays_text_even_when_long() -> None:
    engine = ScriptedEngine([FINAL])
    long_question = DOCUMENT + QUESTION
    req = request(user(TextPart(long_question), TextPart(DOCUMENT)), keep=0)
    result = result_of(await run(req, engine))
    parts = engine.calls[0][0][-1].parts
    assert result.input is not None and result.input.pages >= 2
    assert all(isinstance(p, ImagePart) for p in parts[:-1])
    assert parts[-1] == TextPart(long_question)


async def test_user_images_stay_and_documents_keep_their_order() -> None:
    picture = Image.new("RGB", (30, 30), "red")
    engine = ScriptedEngine([FINAL])
    req = request(user(ImagePart(picture), TextPart(DOCUMENT), TextPart(QUESTION)))
    result = result_of(await run(req, engine))
    parts = engine.calls[0][0][-1].parts
    assert isinstance(parts[0], ImagePart) and parts[0].image is picture
    assert result.input is not None
    assert sum(isinstance(p, ImagePart) for p in parts) == 1 + result.input.pages


async def test_history_becomes_one_transcript_and_the_last_turn_stays() -> None:
    engine = ScriptedEngine([FINAL])
    history = (
        ChatMessage("system", (TextPart("Be brief."),)),
        user(TextPart(DOCUMENT)),
        ChatMessage("assistant", (TextPart("Noted."),)),
    )
    req = request(*history, user(TextPart(QUESTION)), scope="history")
    result = result_of(await run(req, engine))
    messages = engine.calls[0][0]
    assert [m.role for m in messages] == ["system", "user"]
    system = messages[0].parts[0]
    assert isinstance(system, TextPart) and system.text.endswith("Be brief.")
    parts = messages[-1].parts
    assert result.input is not None and result.input.pages >= 2
    assert all(isinstance(p, ImagePart) for p in parts[:-1]) and parts[-1] == TextPart(QUESTION)
    # "User: " + document + "\n\nAssistant: Noted." in words.
    assert result.input.text_tokens == len(tokens_of(f"User: {DOCUMENT}\n\nAssistant: Noted."))


async def test_too_many_images_is_refused_before_round_one() -> None:
    engine = ScriptedEngine([FINAL])
    req = request(user(TextPart(DOCUMENT), TextPart(QUESTION)))
    req = dataclasses.replace(
        req, options=dataclasses.replace(req.options, max_images_per_prompt=1)
    )
    with pytest.raises(PromptTooLarge, match="at most 1 per prompt"):
        await run(req, engine)
    assert engine.calls == []


async def test_a_prompt_beyond_the_context_is_refused_before_round_one() -> None:
    engine = ScriptedEngine([FINAL])
    engine.info = dataclasses.replace(engine.info, max_model_len=IMAGE_TOKENS)
    with pytest.raises(PromptTooLarge, match="context is 7"):
        await run(request(user(TextPart(DOCUMENT), TextPart(QUESTION))), engine)
    assert engine.calls == []
