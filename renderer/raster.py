"""Rasterising laid-out lines into a page, the way poppler's Splash backend does.

Per line, x starts at 0 and every glyph advances by ``pdf_width * 0.001 * size`` (+ ``Tw`` for
code 32), accumulated in float64 in text order; the device x is ``scale * x + left * scale``.
A glyph is drawn at ``floor(x)`` with the bitmap rendered for the quarter pixel
``floor(frac(x) * 4)``; the baseline y is ``floor(y)``. Black glyphs blend into the page as
``dst = (255 - alpha) * dst // 255`` in drawing order.

The work per glyph is done by three numba kernels, compiled on first use and cached on disk.
numba is a hard dependency (pyproject), so there is no second implementation: the numpy
fallback this module used to carry was never run by the tests, and was 7.9x slower per page
(29 vs 3.7 ms, 9 pages of math and prose, process time, 2026-11-30) while pixel-identical on
those pages; anyone building training data wants the fast path, and an environment without
numba is broken (the first render raises ImportError).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from renderer.fonts import FontMetrics, GlyphAtlas
from renderer.layout import Line, PageLines
from renderer.style import FRAME_PADDING, PageStyle

__all__ = ["ink_bounds", "rasterize_page"]


def _positions_kernel(
    cps: np.ndarray,
    line_start: np.ndarray,
    line_ws: np.ndarray,
    line_y: np.ndarray,
    slot_of_cp: np.ndarray,
    adv: np.ndarray,
    scale: float,
    x_off: float,
    keys: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
) -> None:
    """For every character: its cache key (slot * 4 + quarter) and integer pen position."""
    for ln in range(line_start.size - 1):
        x = 0.0
        ws = line_ws[ln]
        y = line_y[ln]
        for i in range(line_start[ln], line_start[ln + 1]):
            cp = cps[i]
            slot = slot_of_cp[cp]
            xd = scale * x + x_off
            fx = math.floor(xd)
            frac = math.floor((xd - fx) * 4.0)
            keys[i] = slot * 4 + frac
            xs[i] = fx
            ys[i] = y
            dx = adv[slot]
            if ws != 0.0 and (cp == 32 or cp == 0xA0):
                dx = dx + ws
            x = x + dx


def _composite_kernel(
    page: np.ndarray,
    keys: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    slot_index: np.ndarray,
    data: np.ndarray,
    offset: np.ndarray,
    width: np.ndarray,
    height: np.ndarray,
    left: np.ndarray,
    top: np.ndarray,
) -> None:
    ph, pw = page.shape
    for i in range(keys.size):
        e = slot_index[keys[i]]
        w = width[e]
        h = height[e]
        if w == 0 or h == 0:
            continue
        x0 = xs[i] + left[e]
        y0 = ys[i] - top[e]
        off = offset[e]
        for r in range(h):
            y = y0 + r
            if y < 0 or y >= ph:
                continue
            base = off + r * w
            for c in range(w):
                x = x0 + c
                if x < 0 or x >= pw:
                    continue
                a = data[base + c]
                if a != 0:
                    page[y, x] = (255 - a) * page[y, x] // 255


def _ink_bounds_kernel(page: np.ndarray, bg: float) -> tuple[int, int]:
    """(rightmost ink column, last ink row), -1 when the page has no ink."""
    ph, pw = page.shape
    right = -1
    bottom = -1
    for y in range(ph):
        row_ink = False
        x = pw - 1
        while x > right:
            if abs(page[y, x] - bg) > 5.0:
                right = x
                row_ink = True
                break
            x -= 1
        if not row_ink:
            for x2 in range(right + 1):
                if abs(page[y, x2] - bg) > 5.0:
                    row_ink = True
                    break
        if row_ink:
            bottom = y
    return right, bottom


class _Kernels(NamedTuple):
    positions: Callable[..., None]
    composite: Callable[..., None]
    ink_bounds: Callable[..., tuple[int, int]]


@functools.cache
def _native() -> _Kernels:
    """The numba kernels, compiled (or loaded from numba's disk cache) on first use.

    numba is imported here, not when this module is imported: vLLM's CPU workers re-import
    their parent's `__main__` when they spawn and then scan every loaded module, tripping over
    llvmlite's lazy function wrappers; a process that merely imports the renderer must not
    load llvmlite."""
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return _Kernels(jit(_positions_kernel), jit(_composite_kernel), jit(_ink_bounds_kernel))


def rasterize_page(
    page_lines: PageLines, style: PageStyle, metrics: FontMetrics, atlas: GlyphAtlas
) -> np.ndarray:
    """Draw one page's lines; returns the uncropped gray page (uint8, H x W)."""
    scale = style.scale
    width_px = math.ceil(style.page_width * scale - 1e-9)
    height_px = math.ceil(style.page_height * scale - 1e-9)
    page = np.full((height_px, width_px), 255, dtype=np.uint8)
    lines = page_lines.lines
    if not any(ln.text for ln in lines) and not any(a == b for a, b in page_lines.boxes):
        return page
    keys, xs, ys, line_start = _glyph_positions(lines, style, metrics)
    atlas.ensure(keys)
    composite = _native().composite
    for a, b in page_lines.boxes:
        _fill_box(page, a, b, style)
        g0, g1 = int(line_start[a]), int(line_start[b])
        if g1 > g0:
            composite(
                page, keys[g0:g1], xs[g0:g1], ys[g0:g1], atlas.slot_index, atlas.data,
                atlas.offset, atlas.width, atlas.height, atlas.left, atlas.top,
            )  # fmt: skip
    return page


def _glyph_positions(
    lines: list[Line], style: PageStyle, metrics: FontMetrics
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per character of the page: atlas key, pen x, baseline y; and each line's first
    character (plus the end)."""
    texts = [ln.text for ln in lines]
    joined = "".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.int64
    )
    line_start = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=line_start[1:])
    line_ws = np.array([poppler_tw(ln.word_space) for ln in lines], dtype=np.float64)
    scale = style.scale
    ph = style.page_height
    y_pdf = ph - (style.first_baseline + style.leading * np.arange(len(lines), dtype=np.float64))
    line_y = np.floor(ph * scale - scale * y_pdf).astype(np.int64)
    adv = metrics.pdf_width * 0.001 * style.font_size
    n = cps.size
    keys = np.empty(n, dtype=np.int64)
    xs = np.empty(n, dtype=np.int64)
    ys = np.empty(n, dtype=np.int64)
    x_off = style.text_left * scale
    _native().positions(
        cps, line_start, line_ws, line_y, metrics.slot_of_cp, adv, scale, x_off, keys, xs, ys
    )
    return keys, xs, ys, line_start


def _fill_box(page: np.ndarray, a: int, b: int, style: PageStyle) -> None:
    """Paint the white background box of the paragraph on lines a..b, in device pixels, as
    reportlab does before drawing its text (erasing descenders of the line above)."""
    height_px, width_px = page.shape
    scale = style.scale
    top0 = style.margin_y + FRAME_PADDING  # frame top + padding, in points from the page top
    box_x0 = max(0, math.floor(style.text_left * scale + 0.5))
    box_x1 = min(width_px, math.floor((style.text_left + style.text_width) * scale + 0.5))
    y0 = max(0, math.floor((top0 + style.leading * a) * scale + 0.5))
    if b == a:
        # A paragraph with no lines still fills its zero-height box; poppler's 4x4
        # anti-aliasing then covers 2/16 of the pixel row at its top edge.
        if y0 < height_px:
            row = page[y0, box_x0:box_x1].astype(np.uint32)
            page[y0, box_x0:box_x1] = ((255 * 32 + row * 223) // 255).astype(np.uint8)
    elif a > 0:  # the first box on a page is white already
        y1 = min(height_px, math.floor((top0 + style.leading * b) * scale + 0.5))
        page[y0:y1, box_x0:box_x1] = 255


def poppler_tw(word_space: float) -> float:
    """The word spacing as poppler reads it back from reportlab's ``fp_str(Tw) Tw``."""
    if word_space == 0.0:
        return 0.0
    from renderer.fonts import fp_str, poppler_number

    return poppler_number(fp_str(word_space))


def ink_bounds(page: np.ndarray) -> tuple[int, int]:
    """The reference's ink test: differs from the median of the top-left 2x2 by more than 5."""
    bg = float(np.median(page[:2, :2]))
    r, b = _native().ink_bounds(page, bg)
    return int(r), int(b)
