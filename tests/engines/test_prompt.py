"""ChatMessage -> HF conversation / OpenAI messages."""

from __future__ import annotations

import base64
import io

from PIL import Image

from server.engines.base import ChatMessage, ImagePart, TextPart
from server.engines.prompt import (
    hf_conversation,
    openai_messages,
    png_bytes,
    png_data_url,
    prompt_images,
)
from tests.engines.pages import page, vtc_messages


def test_hf_conversation_keeps_part_order_and_plain_text_messages() -> None:
    pages = [page(1), page(2)]
    conv = hf_conversation(vtc_messages(pages))
    assert conv[0]["role"] == "system" and isinstance(conv[0]["content"], str)
    assert [p["type"] for p in conv[1]["content"]] == ["image", "image", "text"]
    conv_q = hf_conversation(vtc_messages(pages, images_first=False))
    assert [p["type"] for p in conv_q[1]["content"]] == ["text", "image", "image"]


def test_prompt_images_follow_placeholder_order() -> None:
    a, b, c = page(1), page(2), page(3)
    msgs = [
        ChatMessage("user", (ImagePart(a), TextPart("x"))),
        ChatMessage("user", (TextPart("y"), ImagePart(b), ImagePart(c))),
    ]
    assert prompt_images(msgs) == [a, b, c]


def test_openai_messages_use_given_png_else_encode() -> None:
    img = page(4)
    given = b"\x89PNG-not-really"
    msgs = [ChatMessage("user", (ImagePart(img, png=given), ImagePart(img), TextPart("q")))]
    parts = openai_messages(msgs)[0]["content"]
    assert parts[0]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(
        given
    ).decode("ascii")
    encoded = parts[1]["image_url"]["url"].split(",", 1)[1]
    decoded = Image.open(io.BytesIO(base64.b64decode(encoded)))
    assert decoded.size == img.size and decoded.tobytes() == img.tobytes()
    assert parts[2] == {"type": "text", "text": "q"}


def test_png_encoding_is_deterministic() -> None:
    assert png_bytes(page(5)) == png_bytes(page(5))
    assert png_data_url(ImagePart(page(5))) == png_data_url(ImagePart(page(5)))
    assert png_bytes(page(5)) != png_bytes(page(6))
