"""The reference page renderer (test oracle): text -> reportlab PDF -> poppler -> crop.

This is the pipeline the VTC-R1 / Glyph models were trained on, rebuilt here from the
measured description in the project notes (reportlab 5.1 Paragraphs in a SimpleDocTemplate,
pdf2image at the style's dpi, then the ink-based crop). It is deliberately slow and simple:
tests and ``benchmarks/render.py`` compare :mod:`renderer` against it pixel by pixel.
It is never imported by the ``renderer`` package itself.
"""

from __future__ import annotations

import io
import os
import re
import threading
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image

__all__ = ["OracleConfig", "render_reference"]

_CJK = re.compile(r"[\u4E00-\u9FFF]")
_MULTI_SPACE = re.compile(r" {2,}")
_LINES_PER_PARAGRAPH = 30
_REGISTER_LOCK = threading.Lock()


@dataclass(frozen=True)
class OracleConfig:
    """The subset of the rendering config the reference pipeline reads."""

    font_path: str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    page_width: float = 595.0
    page_height: float = 842.0
    margin_x: float = 10.0
    margin_y: float = 10.0
    font_size: float = 9.0
    leading: float = 10.0
    dpi: int = 72
    crop_width: bool = True
    crop_last_page: bool = True


def _register_font(font_path: str) -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    name = os.path.basename(font_path).split(".")[0]
    with _REGISTER_LOCK:
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, font_path))
    return name


def build_pdf(text: str, cfg: OracleConfig = OracleConfig()) -> bytes:
    """Lay the text out with reportlab exactly as the reference config does; return PDF bytes."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    font_name = _register_font(cfg.font_path)
    white = colors.HexColor("#FFFFFF")
    style = ParagraphStyle(
        name="Custom",
        parent=getSampleStyleSheet()["Normal"],
        fontName=font_name,
        fontSize=cfg.font_size,
        leading=cfg.leading,
        textColor=colors.HexColor("#000000"),
        backColor=white,
        borderColor=white,
        borderWidth=0,
        borderPadding=0,
        firstLineIndent=0,
        wordWrap="CJK" if _CJK.search(text) else None,
        leftIndent=0,
        rightIndent=0,
        alignment=TA_LEFT,
        spaceBefore=0,
        spaceAfter=0,
    )
    text = text.replace("\xad", "").replace("\u200b", "")
    prepared = _MULTI_SPACE.sub(lambda m: "&nbsp;" * len(m.group()), escape(text))
    parts = prepared.split("\n")
    story = [
        Paragraph("<br/>".join(parts[i : i + _LINES_PER_PARAGRAPH]), style)
        for i in range(0, len(parts), _LINES_PER_PARAGRAPH)
    ]
    size = (cfg.page_width, cfg.page_height)

    def background(canvas: object, _doc: object) -> None:
        canvas.saveState()  # type: ignore[attr-defined]
        canvas.setFillColor(white)  # type: ignore[attr-defined]
        canvas.rect(0, 0, size[0], size[1], stroke=0, fill=1)  # type: ignore[attr-defined]
        canvas.restoreState()  # type: ignore[attr-defined]

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=size,
        leftMargin=cfg.margin_x,
        rightMargin=cfg.margin_x,
        topMargin=cfg.margin_y,
        bottomMargin=cfg.margin_y,
    )
    doc.build(story, onFirstPage=background, onLaterPages=background)
    return buf.getvalue()


def crop_page(img: Image.Image, is_last: bool, cfg: OracleConfig = OracleConfig()) -> Image.Image:
    """The reference crop: ink = differs from the top-left 2x2 median by more than 5."""
    if not (cfg.crop_width or (cfg.crop_last_page and is_last)):
        return img
    gray = np.array(img.convert("L"))
    bg = np.median(gray[:2, :2])
    mask = np.abs(gray - bg) > 5
    if cfg.crop_width:
        cols = np.where(mask.any(axis=0))[0]
        if cols.size:
            right = min(img.width, int(cols[-1]) + 1 + int(cfg.margin_x))
            img = img.crop((0, 0, right, img.height))
    if cfg.crop_last_page and is_last:
        rows = np.where(mask.any(axis=1))[0]
        if rows.size:
            lower = min(img.height, int(rows[-1]) + int(cfg.margin_y))
            img = img.crop((0, 0, img.width, lower))
    return img


def render_reference(text: str, cfg: OracleConfig = OracleConfig()) -> list[Image.Image]:
    """Render text the reference way: reportlab PDF, pdf2image in batches of 20 pages, crop."""
    from pdf2image import convert_from_bytes, pdfinfo_from_bytes

    pdf = build_pdf(text, cfg)
    total = int(pdfinfo_from_bytes(pdf)["Pages"])
    pages: list[Image.Image] = []
    for start in range(1, total + 1, 20):
        end = min(start + 19, total)
        batch = convert_from_bytes(pdf, dpi=cfg.dpi, first_page=start, last_page=end)
        for number, img in enumerate(batch, start=start):
            pages.append(crop_page(img.convert("RGB"), number == total, cfg))
    return pages
