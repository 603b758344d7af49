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


def check_page_stream(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assert the contract; returns the page objects in stream order."""
    pages: list[dict[str, Any]] = []
    rounds_ended: list[int] = []
    reasoning_seen = False
    for chunk in chunks:
        page = (chunk.get("vtc") or {}).get("page")
        if page is None:
            if (chunk.get("vtc") or {}).get("round") is not None and "per_round" not in chunk[
                "vtc"
            ]:
                rounds_ended.append(chunk["vtc"]["round"])
            reasoning_seen = reasoning_seen or any(
                c.get("delta", {}).get("reasoning_content") for c in chunk.get("choices", [])
            )
            continue
        assert set(chunk) == CHUNK_KEYS and chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"] == [] and set(chunk["vtc"]) == {"page"}
        assert set(page) == PAGE_KEYS, page.keys()
        assert page["url"].startswith(PNG_URL)
        with Image.open(io.BytesIO(base64.b64decode(page["url"][len(PNG_URL) :]))) as image:
            assert image.format == "PNG" and image.size == (page["width"], page["height"])
        assert isinstance(page["vision_tokens"], int) and page["vision_tokens"] > 0
        if page["kind"] == "input":
            assert page["round"] == 0 and not reasoning_seen and not rounds_ended
        else:
            assert page["kind"] == "reasoning" and page["round"] >= 1
            assert page["round"] not in rounds_ended  # streamed within its round, not after
        pages.append(page)
    for kind in ("input", "reasoning"):
        indexes = [p["index"] for p in pages if p["kind"] == kind]
        assert indexes == list(range(1, len(indexes) + 1)), (kind, indexes)
    final = [c["vtc"] for c in chunks if "per_round" in (c.get("vtc") or {})]
    assert len(final) == 1
    assert final[0]["pages"] == sum(p["kind"] == "reasoning" for p in pages)
    return pages
