"""One paragraph to lines: the dispatch of reportlab's ``Paragraph.wrap``.

CJK mode takes ``breakLinesCJK``; otherwise a paragraph of one text fragment takes
``breakLines``' single-fragment path ("case A") and any other its multi-fragment path
("case B"). The default-mode continuation after a page break (``Paragraph.split`` with
``_split_blParaSimple`` / ``_split_blParaProcessed``) is the remaining lines, see
:func:`renderer.layout.lines.tail_after`.
"""

from __future__ import annotations

from renderer.layout.cjk import cjk_laid_out
from renderer.layout.lines import LaidOut, Line, Measurer, tail_after
from renderer.layout.multi import break_lines_multi
from renderer.layout.simple import break_lines_simple
from renderer.style import PageStyle
from renderer.text import BR, Paragraph

__all__ = ["latin_laid_out", "layout_paragraph"]


def layout_paragraph(par: Paragraph, style: PageStyle, m: Measurer, cjk: bool) -> LaidOut:
    frags = par.frags
    if not frags:
        return LaidOut([], _no_rest)
    if cjk:
        return cjk_laid_out(frags, style, m)
    if len(frags) == 1 and frags[0] is not BR:
        return latin_laid_out(break_lines_simple(frags[0], style, m))
    return latin_laid_out(break_lines_multi(frags, style, m))


def _no_rest(s: int) -> LaidOut:
    raise AssertionError("paragraph fits; nothing to continue")


def latin_laid_out(lines: list[Line]) -> LaidOut:
    """A default-mode paragraph from its lines."""

    def rest(s: int) -> LaidOut:
        return latin_laid_out(tail_after(lines, s))

    return LaidOut(lines, rest)
