"""Page configuration: one frozen dataclass, defaulting to VTC-R1's evaluation config.

The models were trained on pages from one exact reportlab + poppler configuration; every field
here is a knob of that pipeline, and the defaults reproduce it (595x842 pt A4 at 72 dpi, DejaVuSans
9 pt on a 10 pt leading, 10 pt margins, width crop on every page and height crop on the last).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_STYLE", "DPI96_STYLE", "GLYPH_VERDANA_STYLE", "VTC_R1_STYLE", "PageStyle"]

DEJAVU_SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
VERDANA = "/usr/share/fonts/truetype/msttcorefonts/Verdana.ttf"

#: reportlab's Frame pads its content by 6 pt on every side (SimpleDocTemplate's default).
FRAME_PADDING = 6.0


@dataclass(frozen=True)
class PageStyle:
    """How text becomes pages. Lengths are in PDF points (1/72 inch), as in the reference."""

    page_width: float = 595.0
    page_height: float = 842.0
    dpi: int = 72
    margin_x: float = 10.0
    margin_y: float = 10.0
    font_path: str = DEJAVU_SANS
    font_size: float = 9.0
    leading: float = 10.0
    #: Gray levels 0..255; the reference renders black text on a white page.
    text_gray: int = 0
    background_gray: int = 255
    #: Crop every page's width to its ink (+ margin_x) and the last page's height (+ margin_y).
    crop_width: bool = True
    crop_last_page: bool = True

    def __post_init__(self) -> None:
        if self.dpi <= 0 or self.font_size <= 0 or self.leading <= 0:
            raise ValueError("dpi, font_size and leading must be positive")
        if self.text_gray != 0 or self.background_gray != 255:
            raise ValueError("only black text on a white page is supported (the reference config)")

    @property
    def scale(self) -> float:
        """Device pixels per point."""
        return self.dpi / 72.0

    @property
    def text_width(self) -> float:
        """Width available to a line: the frame minus its 6 pt padding on both sides."""
        return self.page_width - 2 * self.margin_x - 2 * FRAME_PADDING

    @property
    def text_height(self) -> float:
        return self.page_height - 2 * self.margin_y - 2 * FRAME_PADDING

    @property
    def lines_per_page(self) -> int:
        return int(self.text_height / self.leading)

    @property
    def text_left(self) -> float:
        """x of every line's start in points (margin + frame padding)."""
        return self.margin_x + FRAME_PADDING

    @property
    def first_baseline(self) -> float:
        """Distance of the first baseline from the page top, in points."""
        return self.margin_y + FRAME_PADDING + self.font_size


VTC_R1_STYLE = PageStyle()
DEFAULT_STYLE = VTC_R1_STYLE
#: Glyph's own English config differs only in the font. Verdana may be absent: constructing the
#: preset never fails, rendering with it raises FontNotFoundError.
GLYPH_VERDANA_STYLE = PageStyle(font_path=VERDANA)
#: 96 dpi: 2-3x compression instead of 3-4x, usually better accuracy.
DPI96_STYLE = PageStyle(dpi=96)
