"""PageStream: render text that arrives in chunks (tokens) without re-laying out the past.

The reference lays text out in paragraphs of 30 source lines, and each paragraph only depends
on its own lines and on where the previous one ended on its page. So the stream lays out each
30-line group once, as soon as its 30th line is complete, and feeds it to an incremental frame
filler; a page is handed out when content spills onto the next page (then it can no longer
change and it is not the last page, so only its width is cropped). ``flush`` lays out the rest
and returns the remaining pages, the last one height-cropped. Work per ``feed`` is
proportional to the new text (plus one paragraph's layout every 30 lines).

One rule of the reference is global: the whole text wraps CJK-style if it contains any
U+4E00..U+9FFF character. The stream decides the mode from the text seen when it lays out its
first paragraph; if such a character only arrives later, nothing has been laid out yet in most
streams (the first 30 lines), and otherwise the stream keeps its mode (``mode_diverged`` is set)
because pages already handed out cannot be taken back.
"""

from __future__ import annotations

from PIL import Image

from renderer.fonts import get_metrics
from renderer.layout import PageLines, Pager, layout_paragraph
from renderer.pages import measurer, page_image
from renderer.style import DEFAULT_STYLE, PageStyle
from renderer.text import LINES_PER_PARAGRAPH, contains_cjk, paragraph_frags, prepare_lines

__all__ = ["PageStream"]


class PageStream:
    """Incremental :func:`renderer.render_pages`. Not thread-safe: one stream per request."""

    def __init__(self, style: PageStyle = DEFAULT_STYLE, *, max_pages: int | None = None) -> None:
        get_metrics(style.font_path)  # fail fast with FontNotFoundError
        self.style = style
        self.max_pages = max_pages
        self._pager = Pager(style)
        self._group: list[str] = []  # complete, prepared source lines of the open paragraph
        self._partial = ""  # the current line, not yet ended by '\\n'
        self._cjk: bool | None = None
        self._seen_cjk = False
        self._emitted = 0
        self._closed = False
        self.mode_diverged = False

    @property
    def pages_emitted(self) -> int:
        return self._emitted

    def _full(self) -> bool:
        return self.max_pages is not None and self._emitted >= self.max_pages

    def _render(self, pages: list[PageLines], last_is_last: bool) -> list[Image.Image]:
        out = []
        for i, page in enumerate(pages):
            if self._full():
                break
            is_last = last_is_last and i == len(pages) - 1
            out.append(page_image(page, self.style, is_last))
            self._emitted += 1
        return out

    def _layout_group(self, lines: list[str]) -> list[PageLines]:
        if self._cjk is None:
            self._cjk = self._seen_cjk
        par = paragraph_frags(lines)
        lo = layout_paragraph(par, self.style, measurer(self.style), self._cjk)
        return self._pager.add(lo)

    def feed(self, chunk: str) -> list[Image.Image]:
        """Add text; return the pages that became final (possibly none)."""
        if self._closed:
            raise ValueError("feed() after flush()")
        if not chunk or self._full():
            return []
        if not self._seen_cjk and contains_cjk(chunk):
            self._seen_cjk = True
            if self._cjk is False:
                self.mode_diverged = True
        if "\n" not in chunk:
            self._partial += chunk
            return []
        parts = (self._partial + chunk).split("\n")
        self._partial = parts.pop()
        done: list[PageLines] = []
        for line in prepare_lines("\n".join(parts)):
            self._group.append(line)
            if len(self._group) == LINES_PER_PARAGRAPH:
                done.extend(self._layout_group(self._group))
                self._group = []
        return self._render(done, False)

    def flush(self) -> list[Image.Image]:
        """End of text: lay out the rest and return the remaining pages."""
        if self._closed:
            return []
        self._closed = True
        if self._full():
            return []
        self._group.extend(prepare_lines(self._partial))
        done = self._layout_group(self._group)
        self._group = []
        n_done = len(done)
        pages = [*done, self._pager.finish()]
        if self.max_pages is not None:
            pages = pages[: max(0, self.max_pages - self._emitted)]
            truncated = len(pages) <= n_done
        else:
            truncated = False
        return self._render(pages, not truncated)
