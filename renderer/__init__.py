"""VTC-R1 page renderer: text -> page images identical to the reference reportlab + poppler
pipeline the models were trained on, at a fraction of its cost.

Public API (other modules import exactly these names):

* :func:`render_pages` - text to RGB page images.
* :class:`PageStyle` and the presets :data:`VTC_R1_STYLE` (= :data:`DEFAULT_STYLE`),
  :data:`GLYPH_VERDANA_STYLE`, :data:`DPI96_STYLE`.
* :class:`PageStream` - incremental rendering for text arriving token by token.
* :func:`encode_png` - deterministic PNG bytes.
* :class:`RendererError` (and :class:`FontNotFoundError`).
"""

from renderer.encode import encode_png
from renderer.errors import FontNotFoundError, RendererError
from renderer.pages import render_pages
from renderer.stream import PageStream
from renderer.style import DEFAULT_STYLE, DPI96_STYLE, GLYPH_VERDANA_STYLE, VTC_R1_STYLE, PageStyle

__all__ = [
    "DEFAULT_STYLE",
    "DPI96_STYLE",
    "GLYPH_VERDANA_STYLE",
    "VTC_R1_STYLE",
    "FontNotFoundError",
    "PageStream",
    "PageStyle",
    "RendererError",
    "encode_png",
    "render_pages",
]
