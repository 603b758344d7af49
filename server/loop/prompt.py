"""Building each round's chat prompt the way the VTC-R1 reference evaluator does.

Round k sends: the VTC system prompt, then the user's question with every image so far — the
user's own images first, then all pages rendered from earlier rounds — before the question text
(`images_first`, the vLLM evaluator's order) or after it (`question_first`, the transformers
script's order). Earlier turns of a multi-turn conversation stay ordinary text turns before the
question; a system message of the user's is appended to the VTC system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

from server.engines.base import ChatMessage, ImagePart, Part, TextPart
from server.loop.events import RenderedPage
from server.loop.request import LoopRequest


def build_round_messages(
    request: LoopRequest, pages: Sequence[RenderedPage], *, with_png: bool = False
) -> list[ChatMessage]:
    *history, question = request.messages
    if question.role != "user":
        raise ValueError("the last message must be the user's question")

    system_texts = [request.options.system_prompt] if request.options.system_prompt else []
    turns: list[ChatMessage] = []
    for message in history:
        if message.role == "system":
            system_texts.extend(p.text for p in message.parts if isinstance(p, TextPart))
        else:
            turns.append(message)

    user_images = [p for p in question.parts if isinstance(p, ImagePart)]
    texts = [p for p in question.parts if isinstance(p, TextPart)]
    memory = [ImagePart(page.image, page.png if with_png else None) for page in pages]
    images: list[Part] = [*user_images, *memory]
    parts = (
        [*images, *texts] if request.options.image_order == "images_first" else [*texts, *images]
    )

    system = [ChatMessage("system", (TextPart("\n\n".join(system_texts)),))] if system_texts else []
    return [*system, *turns, ChatMessage("user", tuple(parts))]


def count_user_images(request: LoopRequest) -> int:
    return sum(len(m.images) for m in request.messages)
