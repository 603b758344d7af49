"""Page breaking: reportlab's frame flow (``Frame.add`` and ``BaseDocTemplate.handle_flowable``
with ``Paragraph.split``).

A page holds ``int(text_height / leading)`` lines. A paragraph that fits goes on the page;
one that does not is split after the lines that fit (``Paragraph.split`` with
``s = int(availHeight / leading)``), unless only one line is free: reportlab allows no orphan,
so the whole paragraph moves to the next page. The rest (:attr:`LaidOut.rest`) continues on
the next page, where it may split again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from renderer.layout.lines import LaidOut, Line, tail_after
from renderer.style import PageStyle

__all__ = ["PageLines", "Pager", "paginate"]


@dataclass
class PageLines:
    """One page: its lines, and where each paragraph (piece) on it starts and ends.

    reportlab paints every paragraph's white background box before drawing its text, which
    erases the descenders of the line just above that stick into the box: the rasteriser needs
    the boxes to do the same.
    """

    lines: list[Line]
    boxes: list[tuple[int, int]]


class Pager:
    """Incremental frame filling: feed laid-out paragraphs, get back completed pages.

    A page is complete when content had to continue on the next page, so it is never the
    document's last page. ``finish`` returns the page in progress (the last page).
    """

    def __init__(self, style: PageStyle) -> None:
        self._per_page = style.lines_per_page
        self._page = PageLines([], [])
        self._avail = self._per_page

    def _place(self, lines: list[Line]) -> None:
        """Put a paragraph (or the piece of it that fits) on the current page."""
        page = self._page
        start = len(page.lines)
        page.lines.extend(lines)
        page.boxes.append((start, start + len(lines)))
        self._avail -= len(lines)

    def _next_page(self, done: list[PageLines]) -> None:
        done.append(self._page)
        self._page = PageLines([], [])
        self._avail = self._per_page

    def add(self, lo: LaidOut) -> list[PageLines]:
        done: list[PageLines] = []
        while len(lo.lines) > self._avail:
            s = self._avail
            if s > 1:
                self._place(lo.lines[:s])
                lo = lo.rest(s)
            self._next_page(done)
        self._place(lo.lines)
        return done

    def release(self, lines: list[Line]) -> tuple[list[PageLines], list[Line]]:
        """Place the final leading lines of a default-mode paragraph still in progress.

        A page is complete when the paragraph certainly overflows it: it has more final
        lines than the page has room. Then the page takes what :meth:`add` would give it
        (nothing if only one line is free) and the rest continues on the next page, with a
        blank first line after a <br/> boundary. Returns the completed pages and the lines
        not yet placed; :meth:`add` the paragraph's remaining lines after those at its end.
        """
        done: list[PageLines] = []
        while len(lines) > self._avail:
            s = self._avail
            if s > 1:
                self._place(lines[:s])
                lines = tail_after(lines, s)
            self._next_page(done)
        return done, lines

    def finish(self) -> PageLines:
        return self._page


def paginate(
    paragraphs: Iterator[LaidOut], style: PageStyle, max_pages: int | None = None
) -> Iterator[PageLines]:
    """Frame filling: yields each page (a page is complete when yielded)."""
    pager = Pager(style)
    emitted = 0
    for lo in paragraphs:
        for page in pager.add(lo):
            yield page
            emitted += 1
            if max_pages is not None and emitted >= max_pages:
                return
    yield pager.finish()
