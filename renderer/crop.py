"""The reference crop rule, applied to our gray page arrays."""

from __future__ import annotations

import numpy as np

from renderer.raster import ink_bounds
from renderer.style import PageStyle

__all__ = ["crop_page"]


def crop_page(page: np.ndarray, style: PageStyle, is_last: bool) -> np.ndarray:
    """Width: rightmost ink column + 1 + margin_x; last page height: last ink row + margin_y.

    Both are capped at the page size and skipped when the page has no ink, exactly like the
    reference (which adds the margins in pixels, whatever the dpi).
    """
    crop_h = style.crop_last_page and is_last
    if not (style.crop_width or crop_h):
        return page
    right, bottom = ink_bounds(page)
    h, w = page.shape
    if right >= 0:
        if style.crop_width:
            w = min(w, right + 1 + int(style.margin_x))
        if crop_h:
            h = min(h, bottom + int(style.margin_y))
    return page[:h, :w]
