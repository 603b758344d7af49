"""What the fake server does with `vtc.compress_input` (issue 16), before the real one exists.

Faithful to the request contract, not to the renderer: the object is checked as the server's
`vtc` model will (known fields, a scope of three, min_tokens >= 1; else a 400); a "token" is a
whitespace word; every text over `min_tokens` becomes ceil(words / WORDS_PER_PAGE) input pages.
`documents` takes the text parts of the last user message except the question (its last text
part); `history` takes the earlier user and assistant turns as one transcript; `all` both.
"""

from __future__ import annotations

import math
from typing import Any

SCOPES = ("documents", "history", "all")
WORDS_PER_PAGE = 50


def compress_input_error(value: Any) -> str | None:
    """The 400 message for a malformed `vtc.compress_input`, None when it is fine."""
    if not isinstance(value, dict):
        return "vtc.compress_input: must be an object"
    unknown = sorted(set(value) - {"min_tokens", "scope"})
    if unknown:
        return f"vtc.compress_input.{unknown[0]}: extra inputs are not permitted"
    min_tokens = value.get("min_tokens", 2048)
    if not isinstance(min_tokens, int) or isinstance(min_tokens, bool) or min_tokens < 1:
        return "vtc.compress_input.min_tokens: must be an integer >= 1"
    if value.get("scope", "documents") not in SCOPES:
        return f"vtc.compress_input.scope: must be one of {', '.join(SCOPES)}"
    return None


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"]
    return []


def _last_user(messages: list[dict[str, Any]]) -> int:
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    return users[-1] if users else len(messages)


def compressed_texts(messages: list[dict[str, Any]], compress: dict[str, Any]) -> list[str]:
    """The texts the scope turns into pages, in order (history first, as it comes first)."""
    scope = compress.get("scope", "documents")
    min_tokens = compress.get("min_tokens", 2048)
    last = _last_user(messages)
    texts: list[str] = []
    if scope in ("history", "all"):
        turns = [m for m in messages[:last] if m.get("role") in ("user", "assistant")]
        texts.append("\n".join(f"{m['role']}: {' '.join(_texts(m.get('content')))}" for m in turns))
    if scope in ("documents", "all") and last < len(messages):
        texts += _texts(messages[last].get("content"))[:-1]  # the last text part stays text
    return [t for t in texts if len(t.split()) > min_tokens]


def input_account(texts: list[str], vision_per_page: int) -> tuple[int, dict[str, Any]]:
    """How many input pages, and the final object's `vtc.input`."""
    pages = sum(math.ceil(len(t.split()) / WORDS_PER_PAGE) for t in texts)
    text_tokens = sum(len(t.split()) for t in texts)
    vision = pages * vision_per_page
    return pages, {
        "pages": pages,
        "text_tokens": text_tokens,
        "vision_tokens": vision,
        "compression_ratio": text_tokens / vision if vision else None,
        "render_s": 0.001 if pages else 0.0,
    }
