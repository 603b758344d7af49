"""Turning the engine port's `ChatMessage`s into what a model server consumes.

Two shapes, one rule. In-process vLLM gets the HF chat-template form (`{"type": "image"}`
placeholders, PIL images passed separately in prompt order); a remote `vllm serve` gets the OpenAI
form (PNG data URLs). A message made only of text is sent as a plain string in both, as the
VTC-R1 reference evaluator does for its system prompt, so templates that print `msg.content`
for system turns render the same text either way.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from server.engines.base import ChatMessage, ImagePart, TextPart


def _text_only(message: ChatMessage) -> str | None:
    if all(isinstance(p, TextPart) for p in message.parts):
        return "".join(p.text for p in message.parts if isinstance(p, TextPart))
    return None


def _conversation(
    messages: Sequence[ChatMessage], image: Callable[[ImagePart], dict[str, Any]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        text = _text_only(m)
        if text is not None:
            out.append({"role": m.role, "content": text})
            continue
        parts = [
            image(p) if isinstance(p, ImagePart) else {"type": "text", "text": p.text}
            for p in m.parts
        ]
        out.append({"role": m.role, "content": parts})
    return out


def hf_conversation(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages for `processor.apply_chat_template` (images are placeholders)."""
    return _conversation(messages, lambda _: {"type": "image"})


def render_hf_prompt(
    processor: Any, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
) -> str:
    """The prompt text as the model's chat template renders it (the processor's template, else
    the tokenizer's); image placeholders are expanded later, by vLLM, to each image's tokens."""
    owner = processor
    if getattr(owner, "chat_template", None) is None:
        owner = getattr(processor, "tokenizer", processor)
    text = owner.apply_chat_template(
        hf_conversation(messages), tokenize=False, add_generation_prompt=add_generation_prompt
    )
    return str(text)


def image_overhead_tokens(processor: Any) -> int:
    """Tokens an image adds besides its image tokens (GLM-4.1V and Qwen-VL: the begin/end
    markers around the placeholder), measured on the template: a prompt with one image minus
    the same prompt without, minus the one placeholder token that gets expanded."""
    tokenizer = getattr(processor, "tokenizer", processor)
    image = ImagePart(Image.new("RGB", (28, 28)))
    with_image = render_hf_prompt(processor, [ChatMessage("user", (image, TextPart("q")))])
    without = render_hf_prompt(processor, [ChatMessage("user", (TextPart("q"),))])

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count(with_image) - count(without) - 1


def prompt_images(messages: Sequence[ChatMessage]) -> list[Image.Image]:
    """The images in the order their placeholders appear in the rendered prompt."""
    return [img for m in messages for img in m.images]


def png_bytes(image: Image.Image) -> bytes:
    """Deterministic PNG (no metadata, fixed compression) of a PIL image."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def png_data_url(part: ImagePart) -> str:
    data = part.png if part.png is not None else png_bytes(part.image)
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def openai_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """Messages for `/v1/chat/completions` (images inline as PNG data URLs)."""
    return _conversation(
        messages, lambda p: {"type": "image_url", "image_url": {"url": png_data_url(p)}}
    )
