"""Synthetic page images and prompts for the engine tests."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from server.engines.base import ChatMessage, ImagePart, TextPart
from server.settings import VTC_SYSTEM_PROMPT

# 448 x 616 px = 16 x 22 merged 28-px patches = 352 image tokens on the tiny model.
PAGE_SIZE = (448, 616)
QUESTION = "What is the sum of the first 10 positive integers?"


def page(seed: int, size: tuple[int, int] = PAGE_SIZE) -> Image.Image:
    """A deterministic page-like image (black strokes on white), different per seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    for row in range(12, size[1] - 12, 18):
        x = 10
        while x < size[0] - 30:
            w = rng.randint(4, 28)
            draw.rectangle((x, row, x + w, row + 10), fill="black")
            x += w + rng.randint(3, 9)
    return img


def vtc_messages(
    pages: list[Image.Image], *, question: str = QUESTION, images_first: bool = True
) -> list[ChatMessage]:
    """A VTC round's prompt: the system prompt, then the user turn with pages and question."""
    images = tuple(ImagePart(p) for p in pages)
    text = (TextPart(question),)
    parts = images + text if images_first else text + images
    return [
        ChatMessage("system", (TextPart(VTC_SYSTEM_PROMPT),)),
        ChatMessage("user", parts),
    ]
