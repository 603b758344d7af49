"""Optical compression of long inputs: long documents and chat history read as pages.

Glyph, the base model of VTC-R1, was trained to read long inputs rendered with the same
renderer and page style as the reasoning pages, at 3-4x fewer tokens than their text. Done once,
before round 1: the chosen text becomes page images in the request's last user message, and
every round re-sends the very same images (same PNG bytes), so the engine's prefix cache serves
them from round 2 on.

- `documents`: every text part of the last user message longer than `min_tokens` is replaced,
  in place, by its pages; the question (the part marked to keep, else the last text part) stays
  text.
- `history`: the earlier user and assistant turns become one transcript with role labels, whose
  pages open the last user message; the turns themselves leave the prompt.
- `all`: both.

Images the user sent stay as they are. Token counts come from the model's tokenizer; rendering
runs in a worker thread (a 64k-token document is tens of pages).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from renderer import render_pages
from server.engines.base import ChatMessage, Engine, ImagePart, Part, TextPart
from server.loop.events import InputCompression, RenderedPage
from server.loop.prompt import build_round_messages
from server.loop.request import CompressInput, LoopRequest

ROLE_LABELS = {"user": "User", "assistant": "Assistant"}


class PromptTooLarge(Exception):
    """The compressed prompt does not fit the engine's image limit or context."""


Renderer = Callable[[str], list[Image.Image]]


@dataclass(frozen=True)
class Compressed:
    messages: tuple[ChatMessage, ...]
    pages: tuple[RenderedPage, ...]
    stats: InputCompression


async def compress_input(
    messages: Sequence[ChatMessage],
    how: CompressInput,
    engine: Engine,
    *,
    render: Renderer = render_pages,
) -> Compressed:
    """The conversation with the chosen text replaced by pages (see the module docstring)."""
    *history, question = messages
    wants_png = engine.info.wants_png
    pages: list[RenderedPage] = []
    text_tokens = 0
    render_s = 0.0

    async def pages_of(text: str) -> list[ImagePart]:
        nonlocal render_s
        started = time.perf_counter()
        made = await asyncio.to_thread(_render, text, render, engine, wants_png)
        render_s += time.perf_counter() - started
        pages.extend(made)
        return [ImagePart(p.image, p.png if wants_png else None) for p in made]

    parts: list[Part] = []
    kept_history: list[ChatMessage] = list(history)
    if how.scope in ("history", "all"):
        transcript = _transcript(history)
        count = await _token_count(engine, transcript, how.min_tokens)
        if count >= how.min_tokens:
            text_tokens += count
            parts += await pages_of(transcript)
            kept_history = [m for m in history if m.role == "system"]
    keep = _kept_part(question, how.keep)
    for index, part in enumerate(question.parts):
        if how.scope in ("documents", "all") and isinstance(part, TextPart) and index != keep:
            count = await _token_count(engine, part.text, how.min_tokens)
            if count >= how.min_tokens:
                text_tokens += count
                parts += await pages_of(part.text)
                continue
        parts.append(part)
    stats = InputCompression(
        pages=len(pages),
        text_tokens=text_tokens,
        vision_tokens=sum(p.vision_tokens for p in pages),
        render_s=render_s,
    )
    last = dataclasses.replace(question, parts=tuple(parts))
    return Compressed((*kept_history, last), tuple(pages), stats)


def _kept_part(question: ChatMessage, keep: int | None) -> int | None:
    if keep is not None:
        return keep
    texts = [i for i, p in enumerate(question.parts) if isinstance(p, TextPart)]
    return texts[-1] if texts else None


def _transcript(history: Sequence[ChatMessage]) -> str:
    turns = []
    for message in history:
        label = ROLE_LABELS.get(message.role)
        if label is None:
            continue
        text = "\n".join(p.text for p in message.parts if isinstance(p, TextPart))
        turns.append(f"{label}: {text}")
    return "\n\n".join(turns)


async def _token_count(engine: Engine, text: str, threshold: int) -> int:
    """Tokens of `text`; a text of fewer UTF-8 bytes than the threshold cannot reach it (a
    byte-level BPE token is at least one byte), so it is not tokenized at all."""
    if len(text.encode("utf-8", "replace")) < threshold:
        return 0
    return len(await engine.tokenize(text, add_special_tokens=False))


def _render(text: str, render: Renderer, engine: Engine, wants_png: bool) -> list[RenderedPage]:
    pages = [RenderedPage(image, engine.info.image_tokens(*image.size)) for image in render(text)]
    if wants_png:
        for page in pages:
            _ = page.png
    return pages


async def prompt_tokens(request: LoopRequest, engine: Engine) -> int:
    """Round 1's prompt length as the engine will count it: the chat template's tokens, each
    image placeholder expanded to the image's tokens."""
    messages = build_round_messages(request, ())
    text = engine.chat_template(messages)
    placeholders = sum(len(m.images) for m in messages)
    vision = sum(engine.info.image_tokens(*image.size) for m in messages for image in m.images)
    return len(await engine.tokenize(text, add_special_tokens=False)) - placeholders + vision
