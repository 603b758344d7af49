"""render_pages: text -> cropped page images, the whole pipeline in one call."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from renderer.crop import crop_page
from renderer.fonts import get_atlas, get_metrics
from renderer.layout import LaidOut, Measurer, PageLines, layout_paragraph, paginate
from renderer.raster import rasterize_page
from renderer.style import DEFAULT_STYLE, PageStyle
from renderer.text import LINES_PER_PARAGRAPH, contains_cjk, paragraph_frags, prepare_lines

__all__ = ["layout_pages", "page_image", "render_pages"]

_measurers: dict[tuple[str, float, int], Measurer] = {}


def measurer(style: PageStyle) -> Measurer:
    """A width memo per font and size (shared; a benign race only duplicates work)."""
    import os

    key = (style.font_path, style.font_size, os.getpid())
    m = _measurers.get(key)
    if m is None:
        m = Measurer(get_metrics(style.font_path), style.font_size)
        _measurers[key] = m
    return m


def laid_out_paragraphs(lines: list[str], style: PageStyle, cjk: bool) -> Iterator[LaidOut]:
    m = measurer(style)
    for i in range(0, len(lines), LINES_PER_PARAGRAPH):
        yield layout_paragraph(paragraph_frags(lines[i : i + LINES_PER_PARAGRAPH]), style, m, cjk)


def layout_pages(
    text: str, style: PageStyle = DEFAULT_STYLE, *, max_pages: int | None = None
) -> list[PageLines]:
    """The lines of every page, as reportlab would lay them out."""
    lines = prepare_lines(text)
    cjk = contains_cjk(text)
    return list(paginate(laid_out_paragraphs(lines, style, cjk), style, max_pages))


def page_image(lines: PageLines, style: PageStyle, is_last: bool) -> Image.Image:
    """Rasterise and crop one page; RGB like pdf2image's output."""
    metrics = get_metrics(style.font_path)
    atlas = get_atlas(style.font_path, style.font_size, style.scale)
    gray = crop_page(rasterize_page(lines, style, metrics, atlas), style, is_last)
    return Image.fromarray(np.ascontiguousarray(gray), mode="L").convert("RGB")


def render_pages(
    text: str, style: PageStyle = DEFAULT_STYLE, *, max_pages: int | None = None
) -> list[Image.Image]:
    """Render text to page images exactly like VTC-R1's reportlab + poppler pipeline.

    ``max_pages`` stops layout and drawing after that many pages; if the text goes on, the last
    page returned is cropped like any non-final page (width only).
    """
    if max_pages is not None and max_pages <= 0:
        return []
    get_metrics(style.font_path)  # fail fast with FontNotFoundError
    limit = None if max_pages is None else max_pages + 1
    pages = layout_pages(text, style, max_pages=limit)
    truncated = max_pages is not None and len(pages) > max_pages
    if truncated:
        pages = pages[:max_pages]
    return [
        page_image(lines, style, i == len(pages) - 1 and not truncated)
        for i, lines in enumerate(pages)
    ]
