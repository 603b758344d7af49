"""Deterministic PNG encoding: same image -> same bytes (no timestamps, no metadata).

Byte-identical pages let vLLM's prefix cache and multimodal encoder cache hit when earlier
pages are re-sent in later rounds.

Pages are gray (black text on white), so an RGB image whose three channels are equal is written
as an 8-bit grayscale PNG: a third of the raw bytes, measured ~4x faster to encode and ~2.5x
smaller than RGB at the same level on a dense math page (6.8 ms / 74 KB vs 26.7 ms / 182 KB).
Decoders that convert to RGB (vLLM's image loader does) get exactly the same pixels back.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

__all__ = ["encode_png"]


def encode_png(image: Image.Image, *, compress_level: int = 1) -> bytes:
    """PNG bytes of ``image`` with fast zlib compression and no ancillary chunks."""
    if image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    if image.mode == "RGB":
        pixels = np.asarray(image)
        if np.array_equal(pixels[..., 0], pixels[..., 1]) and np.array_equal(
            pixels[..., 1], pixels[..., 2]
        ):
            image = Image.fromarray(np.ascontiguousarray(pixels[..., 0]), mode="L")
    buf = io.BytesIO()
    # A fresh image without .info: Pillow then writes only IHDR/IDAT/IEND.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    clean.save(buf, format="PNG", compress_level=compress_level, optimize=False)
    return buf.getvalue()
