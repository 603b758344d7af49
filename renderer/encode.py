"""Deterministic PNG encoding: same image -> same bytes (no timestamps, no metadata).

Byte-identical pages let vLLM's prefix cache and multimodal encoder cache hit when earlier
pages are re-sent in later rounds.
"""

from __future__ import annotations

import io

from PIL import Image

__all__ = ["encode_png"]


def encode_png(image: Image.Image, *, compress_level: int = 1) -> bytes:
    """PNG bytes of ``image`` with fast zlib compression and no ancillary chunks."""
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    # A fresh image without .info: Pillow then writes only IHDR/IDAT/IEND.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    clean.save(buf, format="PNG", compress_level=compress_level, optimize=False)
    return buf.getvalue()
