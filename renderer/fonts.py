"""Font metrics and the glyph bitmap cache.

Two kinds of widths matter and they are *not* the same numbers:

* layout widths: reportlab measures text with the font's unhinted advance widths in 1/1000 em
  (``aw * 1000 / unitsPerEm``), summed per string and scaled by ``0.001 * size``; its line
  breaking compares those floats, so we reproduce the exact float operations.
* drawing advances: reportlab writes each width to the PDF with ``fp_str`` (4 decimals for
  100..999) and poppler parses it back digit by digit, then advances ``w * 0.001 * size`` per
  glyph. Those rounded values decide which quarter-pixel position a glyph lands on.

Glyph bitmaps are rendered the way poppler's Splash backend does it: FreeType, unhinted,
anti-aliased, the pen shifted by 0, 1/4, 1/2 or 3/4 pixel. They are cached per process in a
growable atlas that the compositor reads as flat numpy arrays.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass

import numpy as np

from renderer.errors import FontNotFoundError, RendererError

__all__ = ["FontMetrics", "GlyphAtlas", "fp_str", "get_atlas", "get_metrics", "poppler_number"]

_FRACTIONS = 4  # poppler's splashFontFraction: 4 horizontal sub-pixel positions
_MAX_CP = 0x110000


def fp_str(x: float) -> str:
    """reportlab's number formatting (rl_accel._py_fp_str) for one number."""
    sa = abs(x)
    if sa <= 1e-7:
        return "0"
    places = 6 if sa <= 1 else min(max(0, 6 - int(math.log(sa) / math.log(10.0))), 6)
    n = f"%.{places}f" % x
    if places:
        j = len(n)
        while j:
            j -= 1
            if n[j] != "0":
                if n[j] != ".":
                    j += 1
                break
        n = n[:j]
    return n if (n[0] != "0" or len(n) == 1) else n[1:]


def poppler_number(s: str) -> float:
    """Parse a PDF number the way poppler's Lexer does (digit by digit, not strtod)."""
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    int_part, dot, frac = s.partition(".")
    xi = 0
    for c in int_part:
        xi = xi * 10 + (ord(c) - 48)
    if not dot:
        return float(-xi if neg else xi)
    xf = float(xi)
    scale = 0.1
    for c in frac:
        xf = xf + scale * (ord(c) - 48)
        scale *= 0.1
    return -xf if neg else xf


def _open_face(path: str) -> object:
    import freetype

    if not os.path.isfile(path):
        raise FontNotFoundError(path)
    try:
        return freetype.Face(path)
    except Exception as exc:  # freetype.FT_Exception and friends
        raise RendererError(f"cannot load font {path}: {exc}") from exc


@dataclass
class FontMetrics:
    """Per-font tables shared by all threads (read-only after construction).

    Glyph "slots": index g < num_glyphs is the font's glyph g; index ``missing`` stands for a
    character the font has no glyph for (drawn as glyph 0, .notdef, with PDF code 0's width).
    """

    path: str
    num_glyphs: int
    missing: int
    slot_of_cp: np.ndarray  # int32[0x110000]: code point -> slot
    layout_width: dict[str, float]  # char -> reportlab width (1/1000 em), only mapped chars
    default_width: float  # width of glyph 0, reportlab's width for unmapped chars
    pdf_width: np.ndarray  # float64[slots]: width as poppler reads it from /Widths (1/1000 em)
    draw_gid: np.ndarray  # int32[slots]: glyph index actually rasterised

    def char_width(self, c: str) -> float:
        return self.layout_width.get(c, self.default_width)


_metrics_cache: dict[tuple[str, int], FontMetrics] = {}
_metrics_lock = threading.Lock()


def _build_metrics(path: str) -> FontMetrics:
    import freetype

    face = _open_face(path)
    upem = face.units_per_EM  # type: ignore[attr-defined]
    mult = 1000 / upem
    num_glyphs = int(face.num_glyphs)  # type: ignore[attr-defined]
    missing = num_glyphs
    slot_of_cp = np.full(_MAX_CP, missing, dtype=np.int32)
    advances = np.zeros(num_glyphs, dtype=np.float64)
    for g in range(num_glyphs):
        advances[g] = face.get_advance(g, freetype.FT_LOAD_NO_SCALE)  # type: ignore[attr-defined]
    layout_width: dict[str, float] = {}
    for cp, gid in face.get_chars():  # type: ignore[attr-defined]
        if gid == 0 or cp >= _MAX_CP:
            continue
        slot_of_cp[cp] = gid
        layout_width[chr(cp)] = float(advances[gid]) * mult
    # reportlab maps the no-break space to the space glyph (and draws it as code 32).
    if " " in layout_width:
        slot_of_cp[0xA0] = slot_of_cp[0x20]
        layout_width["\xa0"] = layout_width[" "]
    default_width = float(advances[0]) * mult
    code0_width = layout_width.get("\x00", default_width)
    pdf_width = np.empty(num_glyphs + 1, dtype=np.float64)
    memo: dict[float, float] = {}
    for g in range(num_glyphs):
        w = float(advances[g]) * mult
        if w not in memo:
            memo[w] = poppler_number(fp_str(w))
        pdf_width[g] = memo[w]
    pdf_width[missing] = poppler_number(fp_str(code0_width))
    draw_gid = np.arange(num_glyphs + 1, dtype=np.int32)
    draw_gid[missing] = 0
    return FontMetrics(
        path=path,
        num_glyphs=num_glyphs,
        missing=missing,
        slot_of_cp=slot_of_cp,
        layout_width=layout_width,
        default_width=default_width,
        pdf_width=pdf_width,
        draw_gid=draw_gid,
    )


def get_metrics(path: str) -> FontMetrics:
    """The font's metrics, loaded once per process (raises FontNotFoundError if absent)."""
    key = (path, os.getpid())
    m = _metrics_cache.get(key)
    if m is not None:
        return m
    if not os.path.isfile(path):
        raise FontNotFoundError(path)
    with _metrics_lock:
        m = _metrics_cache.get(key)
        if m is None:
            m = _build_metrics(path)
            _metrics_cache[key] = m
    return m


class GlyphAtlas:
    """Rendered glyph bitmaps for one font at one pixel size, keyed by (slot, x fraction).

    The compositor reads ``slot_index`` (key -> entry, -1 if not rendered yet) and the entry
    arrays. Entries are only ever appended; growth replaces arrays under the lock, so a reader
    holding the previous arrays still sees consistent data for the keys it resolved.
    """

    def __init__(self, metrics: FontMetrics, font_size: float, scale: float) -> None:
        self.metrics = metrics
        self._lock = threading.Lock()
        self._face: object | None = None
        mat = font_size * scale
        self.pixel_size = max(1, math.floor(mat + 0.5))
        self._fixed = int(mat / self.pixel_size * 65536)
        nkeys = (metrics.num_glyphs + 1) * _FRACTIONS
        self.slot_index = np.full(nkeys, -1, dtype=np.int32)
        self.data = np.zeros(1 << 16, dtype=np.uint8)
        self.offset = np.zeros(256, dtype=np.int64)
        self.width = np.zeros(256, dtype=np.int32)
        self.height = np.zeros(256, dtype=np.int32)
        self.left = np.zeros(256, dtype=np.int32)
        self.top = np.zeros(256, dtype=np.int32)
        self.count = 0
        self.used = 0

    def _get_face(self) -> object:
        if self._face is None:
            import freetype

            face = _open_face(self.metrics.path)
            face.set_pixel_sizes(0, self.pixel_size)  # type: ignore[attr-defined]
            self._face = face
            self._ft = freetype
        return self._face

    def _render(self, gid: int, frac: int) -> np.ndarray:
        ft = self._ft
        face = self._get_face()
        matrix = ft.FT_Matrix(self._fixed, 0, 0, self._fixed)
        vector = ft.FT_Vector(frac * (64 // _FRACTIONS), 0)
        face.set_transform(matrix, vector)  # type: ignore[attr-defined]
        face.load_glyph(gid, ft.FT_LOAD_NO_HINTING | ft.FT_LOAD_NO_BITMAP)  # type: ignore[attr-defined]
        slot = face.glyph  # type: ignore[attr-defined]
        slot.render(ft.FT_RENDER_MODE_NORMAL)
        bm = slot.bitmap
        rows, cols, pitch = bm.rows, bm.width, bm.pitch
        if rows and cols:
            arr = np.frombuffer(bytes(bm.buffer), dtype=np.uint8).reshape(rows, abs(pitch))
            arr = np.ascontiguousarray(arr[:, :cols])
        else:
            arr = np.zeros((0, 0), dtype=np.uint8)
        self._last_left = int(slot.bitmap_left)
        self._last_top = int(slot.bitmap_top)
        return arr

    def ensure(self, keys: np.ndarray) -> None:
        """Render every key (slot * 4 + fraction) that is not cached yet."""
        missing = keys[self.slot_index[keys] < 0]
        if missing.size == 0:
            return
        with self._lock:
            self._get_face()
            for key in np.unique(missing).tolist():
                if self.slot_index[key] >= 0:
                    continue
                slot, frac = divmod(int(key), _FRACTIONS)
                bitmap = self._render(int(self.metrics.draw_gid[slot]), frac)
                self._append(key, bitmap)

    def _append(self, key: int, bitmap: np.ndarray) -> None:
        n = self.count
        if n == self.offset.size:
            for name in ("offset", "width", "height", "left", "top"):
                old = getattr(self, name)
                new = np.zeros(old.size * 2, dtype=old.dtype)
                new[: old.size] = old
                setattr(self, name, new)
        size = bitmap.size
        if self.used + size > self.data.size:
            new_data = np.zeros(max(self.data.size * 2, self.used + size), dtype=np.uint8)
            new_data[: self.used] = self.data[: self.used]
            self.data = new_data
        self.data[self.used : self.used + size] = bitmap.reshape(-1)
        self.offset[n] = self.used
        self.height[n], self.width[n] = bitmap.shape
        self.left[n] = self._last_left
        self.top[n] = self._last_top
        self.used += size
        self.count = n + 1
        self.slot_index[key] = n  # publish last


_atlas_cache: dict[tuple[str, float, float, int], GlyphAtlas] = {}


def get_atlas(path: str, font_size: float, scale: float) -> GlyphAtlas:
    """The process-wide glyph atlas for this font, size and resolution."""
    key = (path, font_size, scale, os.getpid())
    atlas = _atlas_cache.get(key)
    if atlas is not None:
        return atlas
    metrics = get_metrics(path)
    with _metrics_lock:
        atlas = _atlas_cache.get(key)
        if atlas is None:
            atlas = GlyphAtlas(metrics, font_size, scale)
            _atlas_cache[key] = atlas
    return atlas
