"""What every wrapping mechanism shares: measuring text, the drawn line, the laid-out paragraph.

* :class:`Measurer` is reportlab's ``pdfmetrics.stringWidth`` for one TrueType font and size:
  the unhinted advance widths of a string's characters summed, then scaled by ``0.001 * size``.
  Line breaks are decided by comparing such floats, so the sum is taken in reportlab's order.
* :class:`Line` is what gets drawn: the characters as reportlab emits them and the PDF word
  spacing ``Tw`` that poppler adds to every code-32 byte (space and no-break space) of the line.
  :func:`word_space` is the ``extraspace / nSpaces`` that ``_leftDrawParaLine`` and
  ``_leftDrawParaLineX`` set when a line overruns its width (the 5% space shrink).
* :class:`LaidOut` is a wrapped paragraph as the frame filler sees it: its lines, and how it
  continues if a page break falls after line ``s`` (reportlab's ``Paragraph.split``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from renderer.fonts import FontMetrics

__all__ = ["BLANK_BREAK_LINE", "FUZZ", "SHRINK", "LaidOut", "Line", "Measurer", "word_space"]

FUZZ = 1e-6  # reportlab's _FUZZ
SHRINK = 0.05  # reportlab's spaceShrinkage


@dataclass(frozen=True)
class Line:
    """One drawn line: text as emitted, word spacing, and whether a <br/> ended it."""

    text: str
    word_space: float = 0.0
    ends_break: bool = False


#: The blank first line of a continuation whose page break fell on a <br/> boundary.
BLANK_BREAK_LINE = Line("", 0.0, True)


class Measurer:
    """reportlab's stringWidth for one font and size, memoised per word."""

    def __init__(self, metrics: FontMetrics, size: float) -> None:
        self._get = metrics.layout_width.get
        self._dw = metrics.default_width
        self._k = 0.001 * size
        self._cache: dict[str, float] = {}
        self.space = self.width(" ")

    def width(self, s: str) -> float:
        w = self._cache.get(s)
        if w is None:
            get, dw = self._get, self._dw
            w = self._k * sum([get(c, dw) for c in s])
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[s] = w
        return w

    def char(self, c: str) -> float:
        return self._k * self._get(c, self._dw) if c else 0.0


def word_space(extra: float, n_spaces: int) -> float:
    """The ``Tw`` of a line with ``extra`` points left (negative: it overruns)."""
    return extra / float(n_spaces) if extra <= -1e-8 and n_spaces > 0 else 0.0


@dataclass
class LaidOut:
    """A paragraph's lines plus how to continue it after a page break at line s."""

    lines: list[Line]
    rest: Callable[[int], LaidOut]


def tail_after(lines: list[Line], s: int) -> list[Line]:
    """A default-mode paragraph's lines after a page break at line ``s``: reportlab rebuilds
    the continuation from the remaining words (``_split_blParaSimple``) or fragments
    (``_split_blParaProcessed``), which wrap to the same lines, except that a break right after
    a <br/> leaves that <br/> at the continuation's start: a blank first line."""
    tail = lines[s:]
    if lines[s - 1].ends_break:
        tail.insert(0, BLANK_BREAK_LINE)
    return tail
