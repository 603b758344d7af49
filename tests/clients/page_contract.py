"""The page-streaming contract (`vtc.stream_pages`, /work/plan/CONTRACTS.md "Page streaming"),
as one check over the raw SSE chunks of a chat completion: used on the fake server here and on
the real gateway in the end-to-end tests, so both are held to the same shape."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterable
from typing import Any

from PIL import Image

CHUNK_KEYS = {"id", "object", "created", "model", "choices", "vtc"}
PAGE_KEYS = {"round", "index", "kind", "vision_tokens", "width", "height", "url"}
PNG_URL = "data:image/png;base64,"


def sse_chunks(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The JSON objects of an SSE body's `data:` lines, up to `[DONE]`."""
    chunks = []
    for line in lines:
        if not line.startswith("data: "):
            continue
        data = line[len("data: ") :]
        if data == "[DONE]":
            break
        chunks.append(json.loads(data))
    return chunks


def _check_chunk(chunk: dict[str, Any], page: dict[str, Any]) -> None:
    assert set(chunk) == CHUNK_KEYS and chunk["object"] == "chat.completion.chunk"
    assert chunk["choices"] == [] and set(chunk["vtc"]) == {"page"}
    assert set(page) == PAGE_KEYS, page.keys()
    assert page["kind"] in ("reasoning", "input")
    assert isinstance(page["vision_tokens"], int) and page["vision_tokens"] > 0
    assert page["url"].startswith(PNG_URL)
    with Image.open(io.BytesIO(base64.b64decode(page["url"][len(PNG_URL) :]))) as image:
        assert image.format == "PNG" and image.size == (page["width"], page["height"])


def check_page_stream(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assert the contract; returns the page objects in stream order.

    Not asserted: that a reasoning page comes before its round's marker. A page goes out once
    its PNG is encoded (off the token path), so after a fast round it may follow the marker;
    the contract promises each page once, in order, before the final chunk."""
    pages: list[dict[str, Any]] = []
    reasoning_seen = final_seen = False
    for chunk in chunks:
        vtc = chunk.get("vtc") or {}
        if "page" not in vtc:
            final_seen = final_seen or "per_round" in vtc
            deltas = [c.get("delta", {}) for c in chunk.get("choices", [])]
            reasoning_seen = reasoning_seen or any(d.get("reasoning_content") for d in deltas)
            continue
        page = vtc["page"]
        _check_chunk(chunk, page)
        assert not final_seen  # every page before the final chunk
        if page["kind"] == "input":
            assert page["round"] == 0 and not reasoning_seen  # before round 1
        else:
            assert page["round"] >= 1
        pages.append(page)
    reasoning = [p for p in pages if p["kind"] == "reasoning"]
    for kind in ("input", "reasoning"):
        indexes = [p["index"] for p in pages if p["kind"] == kind]
        assert indexes == list(range(1, len(indexes) + 1)), (kind, indexes)
    rounds = [p["round"] for p in reasoning]
    assert rounds == sorted(rounds)  # reading order
    final = [c["vtc"] for c in chunks if "per_round" in (c.get("vtc") or {})]
    assert len(final) == 1
    assert final[0]["pages"] == len(reasoning)
    assert max(rounds, default=0) <= final[0]["rounds"]
    return pages
