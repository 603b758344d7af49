"""Vision-token counts of page images for the two VTC-R1 model families (pure functions).

Both processors resize an image to multiples of (patch size x merge size) while keeping the
aspect ratio and pixel count within [min_pixels, max_pixels] ("smart resize"), then spend one
token per merged patch:

* GLM-4.1V / Glyph: 14 px patches merged 2x2 -> 28 px per token side. A full 595x842 page becomes
  588x840 = 630 tokens. (VTC-R1's training recipe capped images at 262,144 px, which would
  downsize a page; pass ``max_pixels=262_144`` to model that.)
* Qwen3-VL: 16 px patches merged 2x2 -> 32 px per token side, at least 65,536 px (small cropped
  pages are scaled up).
"""

from __future__ import annotations

import math

__all__ = ["GLM4V", "QWEN3VL", "VisionSpec", "smart_resize", "vision_tokens"]


class VisionSpec:
    """Patch geometry of one image processor."""

    def __init__(self, name: str, factor: int, min_pixels: int, max_pixels: int) -> None:
        self.name = name
        self.factor = factor
        self.min_pixels = min_pixels
        self.max_pixels = max_pixels

    def __repr__(self) -> str:
        return f"VisionSpec({self.name!r}, factor={self.factor})"


GLM4V = VisionSpec("GLM-4.1V", 28, 112 * 112, 28 * 28 * 2 * 30000)
QWEN3VL = VisionSpec("Qwen3-VL", 32, 65_536, 16_777_216)


def smart_resize(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen2-VL-style resize: round each side to a multiple of ``factor``, then scale the
    pixel count into [min_pixels, max_pixels] keeping the aspect ratio."""
    if height <= 0 or width <= 0:
        raise ValueError("image sides must be positive")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def vision_tokens(
    width: int, height: int, spec: VisionSpec = GLM4V, *, max_pixels: int | None = None
) -> int:
    """Tokens one image of width x height px costs under ``spec``."""
    h, w = smart_resize(height, width, spec.factor, spec.min_pixels, max_pixels or spec.max_pixels)
    return (h // spec.factor) * (w // spec.factor)
