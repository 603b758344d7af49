"""Rasterising laid-out lines into a page, the way poppler's Splash backend does.

Per line, x starts at 0 and every glyph advances by ``pdf_width * 0.001 * size`` (+ ``Tw`` for
code 32), accumulated in float64 in text order; the device x is ``scale * x + left * scale``.
A glyph is drawn at ``floor(x)`` with the bitmap rendered for the quarter pixel
``floor(frac(x) * 4)``; the baseline y is ``floor(y)``. Black glyphs blend into the page as
``dst = (255 - alpha) * dst // 255`` in drawing order.

The work per glyph is done in native code: numba kernels when numba is importable (compiled
once and cached on disk), otherwise a numpy fallback that is slower but gives the same pixels.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from renderer.fonts import FontMetrics, GlyphAtlas
from renderer.layout import PageLines
from renderer.style import FRAME_PADDING, PageStyle

__all__ = ["HAVE_NUMBA", "ink_bounds", "rasterize_page"]

HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def _positions_py(
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


def _composite_py(
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


def _ink_bounds_py(page: np.ndarray, bg: float) -> tuple[int, int]:
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
def _native() -> _Kernels | None:
    """The numba kernels, compiled (or loaded from numba's disk cache) on first use.

    numba is imported here, not when this module is imported: vLLM's CPU workers re-import
    their parent's `__main__` when they spawn and then scan every loaded module, tripping over
    llvmlite's lazy function wrappers; a process that merely imports the renderer must not
    load llvmlite."""
    if not HAVE_NUMBA:
        return None  # pragma: no cover
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return _Kernels(jit(_positions_py), jit(_composite_py), jit(_ink_bounds_py))


def _positions_np(
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
    slots = slot_of_cp[cps]
    dx = adv[slots]
    ws_per_char = np.repeat(line_ws, np.diff(line_start))
    is_space = (cps == 32) | (cps == 0xA0)
    dx = np.where(is_space & (ws_per_char != 0.0), dx + ws_per_char, dx)
    x = np.empty_like(dx)
    for ln in range(line_start.size - 1):
        a, b = int(line_start[ln]), int(line_start[ln + 1])
        if b > a:
            x[a] = 0.0
            if b - a > 1:
                np.cumsum(dx[a : b - 1], out=x[a + 1 : b])  # sequential, same order as poppler
    xd = scale * x + x_off
    fx = np.floor(xd)
    frac = np.floor((xd - fx) * 4.0).astype(np.int64)
    keys[:] = slots.astype(np.int64) * 4 + frac
    xs[:] = fx.astype(np.int64)
    ys[:] = np.repeat(line_y, np.diff(line_start))


def _composite_np(page: np.ndarray, keys: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                  atlas: GlyphAtlas) -> None:  # fmt: skip
    ph, pw = page.shape
    for i in range(keys.size):
        e = int(atlas.slot_index[keys[i]])
        w, h = int(atlas.width[e]), int(atlas.height[e])
        if not w or not h:
            continue
        x0 = int(xs[i]) + int(atlas.left[e])
        y0 = int(ys[i]) - int(atlas.top[e])
        off = int(atlas.offset[e])
        bm = atlas.data[off : off + w * h].reshape(h, w)
        cx0, cy0 = max(0, -x0), max(0, -y0)
        cx1, cy1 = min(w, pw - x0), min(h, ph - y0)
        if cx0 >= cx1 or cy0 >= cy1:
            continue
        a = bm[cy0:cy1, cx0:cx1].astype(np.uint32)
        region = page[y0 + cy0 : y0 + cy1, x0 + cx0 : x0 + cx1]
        region[...] = ((255 - a) * region // 255).astype(np.uint8)


def rasterize_page(
    page_lines: PageLines, style: PageStyle, metrics: FontMetrics, atlas: GlyphAtlas
) -> np.ndarray:
    """Draw one page's lines; returns the uncropped gray page (uint8, H x W)."""
    lines = page_lines.lines
    scale = style.scale
    width_px = math.ceil(style.page_width * scale - 1e-9)
    height_px = math.ceil(style.page_height * scale - 1e-9)
    page = np.full((height_px, width_px), 255, dtype=np.uint8)
    texts = [ln.text for ln in lines]
    joined = "".join(texts)
    if not joined and not any(a == b for a, b in page_lines.boxes):
        return page
    cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.int64
    )
    line_start = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in texts], out=line_start[1:])
    line_ws = np.array([poppler_tw(ln.word_space) for ln in lines], dtype=np.float64)
    ph = style.page_height
    y_pdf = ph - (style.first_baseline + style.leading * np.arange(len(lines), dtype=np.float64))
    line_y = np.floor(ph * scale - scale * y_pdf).astype(np.int64)
    adv = metrics.pdf_width * 0.001 * style.font_size
    n = cps.size
    keys = np.empty(n, dtype=np.int64)
    xs = np.empty(n, dtype=np.int64)
    ys = np.empty(n, dtype=np.int64)
    x_off = style.text_left * scale
    args = (cps, line_start, line_ws, line_y, metrics.slot_of_cp, adv, scale, x_off, keys, xs, ys)
    native = _native()
    if native is not None:
        native.positions(*args)
    else:  # pragma: no cover
        _positions_np(*args)
    atlas.ensure(keys)
    # Paragraph boxes, in device pixels (reportlab fills them white before drawing the text).
    top0 = style.margin_y + FRAME_PADDING  # frame top + padding, in points from the page top
    box_x0 = max(0, math.floor(style.text_left * scale + 0.5))
    box_x1 = min(width_px, math.floor((style.text_left + style.text_width) * scale + 0.5))
    for a, b in page_lines.boxes:
        y0 = max(0, math.floor((top0 + style.leading * a) * scale + 0.5))
        y1 = min(height_px, math.floor((top0 + style.leading * b) * scale + 0.5))
        if b == a:
            # A paragraph with no lines still fills its zero-height box; poppler's 4x4
            # anti-aliasing then covers 2/16 of the pixel row at its top edge.
            if 0 <= y0 < height_px:
                row = page[y0, box_x0:box_x1].astype(np.uint32)
                page[y0, box_x0:box_x1] = ((255 * 32 + row * 223) // 255).astype(np.uint8)
            continue
        if a > 0:
            page[y0:y1, box_x0:box_x1] = 255
        g0, g1 = int(line_start[a]), int(line_start[b])
        if g1 > g0:
            _draw(page, keys[g0:g1], xs[g0:g1], ys[g0:g1], atlas)
    return page


def _draw(page: np.ndarray, keys: np.ndarray, xs: np.ndarray, ys: np.ndarray,
          atlas: GlyphAtlas) -> None:  # fmt: skip
    native = _native()
    if native is not None:
        native.composite(
            page, keys, xs, ys, atlas.slot_index, atlas.data, atlas.offset,
            atlas.width, atlas.height, atlas.left, atlas.top,
        )  # fmt: skip
    else:  # pragma: no cover
        _composite_np(page, keys, xs, ys, atlas)


def poppler_tw(word_space: float) -> float:
    """The word spacing as poppler reads it back from reportlab's ``fp_str(Tw) Tw``."""
    if word_space == 0.0:
        return 0.0
    from renderer.fonts import fp_str, poppler_number

    return poppler_number(fp_str(word_space))


def ink_bounds(page: np.ndarray) -> tuple[int, int]:
    """The reference's ink test: differs from the median of the top-left 2x2 by more than 5."""
    bg = float(np.median(page[:2, :2]))
    native = _native()
    if native is not None:
        r, b = native.ink_bounds(page, bg)
        return int(r), int(b)
    mask = np.abs(page.astype(np.float64) - bg) > 5  # pragma: no cover
    cols = np.flatnonzero(mask.any(axis=0))  # pragma: no cover
    rows = np.flatnonzero(mask.any(axis=1))  # pragma: no cover
    return (int(cols[-1]) if cols.size else -1, int(rows[-1]) if rows.size else -1)
