"""PageStream: render text that arrives in chunks (tokens) without re-laying out the past.

The reference lays text out in paragraphs of 30 source lines; each paragraph only depends on
its own lines and on where the previous one ended on its page, and in the default mode
reportlab wraps a paragraph greedily, line by line. So the stream wraps the open paragraph
incrementally (:class:`renderer.layout.OpenParagraph`): the text is cut after its last
finished word, the words before the cut are wrapped once, and a line is final as soon as the
first word of the next line is finished (or, for a word wider than a line that is still
growing, as soon as its character-by-character pieces are). Final lines go to the frame
filler (:meth:`renderer.layout.Pager.release`), which completes a page as soon as a paragraph
certainly overflows it; a completed page can no longer change and is not the last page, so
it is rasterised (width-cropped only) and handed out by ``feed``. ``flush`` wraps the last
words and returns the remaining pages, the last one height-cropped. Work per ``feed`` is
proportional to the new text (text is wrapped in batches of ``BATCH_CHARS``); ``flush`` has
the unfinished line(s) left to wrap and the last page (rarely two) to rasterise.

Held back until the paragraph ends (so wrapped by ``flush`` if it is the last one):
  * CJK mode: reportlab re-wraps the part of a paragraph continued on the next page, so a
    page's lines depend on the whole paragraph. In that mode the stream lays out each 30-line
    group once, when its 30th line is complete, and releases pages at that granularity.
  * A one-line paragraph (no newline, entity or run of spaces yet) can still take either of
    reportlab's two wrapping paths; lines are final only where both agree, and after a word
    wider than a line they usually differ (cut words are handled differently).
  * A word wider than a line still growing at ``flush``: its pieces were handed out as they
    became final, but its last line is only known at its end, and ``flush`` wraps the whole
    word again (O(word length)).

One rule of the reference is global: the whole text wraps CJK-style if it contains any
U+4E00..U+9FFF character. Until the stream hands out its first page it keeps the text, and a
CJK character restarts it in CJK mode; one arriving after that cannot change pages already
handed out, so the stream keeps the default mode and sets ``mode_diverged``.
"""

from __future__ import annotations

import re

from PIL import Image

from renderer.fonts import get_metrics
from renderer.layout import Line, OpenParagraph, PageLines, Pager, latin_laid_out
from renderer.layout import layout_paragraph as _layout_paragraph
from renderer.pages import measurer, page_image
from renderer.style import DEFAULT_STYLE, PageStyle
from renderer.text import (
    LINES_PER_PARAGRAPH,
    WHITESPACE,
    contains_cjk,
    paragraph_frags,
    prepare_lines,
)

__all__ = ["PageStream"]

_WS = frozenset(WHITESPACE)  # reportlab's whitespace, '\n' included
#: Text is wrapped in batches of at least this many characters (per-call overhead dominates
#: below that); a page is handed out at most this much text (plus a word) after it is final.
BATCH_CHARS = 64
#: A word still growing is looked into (see ``OpenParagraph.peek``) once it is this long, then
#: each time it has grown by a quarter.
PEEK_CHARS = 64
_WS_NO_SPACE = re.escape(WHITESPACE.replace(" ", ""))
#: The last cut: after a whitespace character (a space with a space before it is a no-break
#: space, and one with a space after it is followed by whitespace), before a non-whitespace one.
_LAST_CUT = re.compile(f"(?s:.*)(?:[{_WS_NO_SPACE}]|(?<! ) )(?=[^{re.escape(WHITESPACE)}])")


def _clean(text: str) -> str:
    """The reference drops these two before anything else; doing it per chunk is the same."""
    if "\xad" in text:
        text = text.replace("\xad", "")
    if "\u200b" in text:
        text = text.replace("\u200b", "")
    return text


class _LatinEngine:
    """Default mode: pages released as soon as they are final, also inside a paragraph."""

    def __init__(self, style: PageStyle) -> None:
        self._style = style
        self._m = measurer(style)
        self.pager = Pager(style)
        self._pending: list[str] = []  # text not yet given to the open paragraph
        self._pending_len = 0
        self._next_try = BATCH_CHARS  # wrap when _pending_len reaches this
        self._scanned = 0  # the pending text's first _scanned characters hold no cut
        self._next_peek = PEEK_CHARS  # look into the word still growing at this length
        self._new_group()

    def _new_group(self) -> None:
        self._par = OpenParagraph(self._style, self._m)
        self._newlines = 0  # '\n' in the text given to the paragraph (the 30th ends it)
        self._known = 0  # the paragraph's lines handed to the frame filler
        self._open: list[Line] = []  # those not yet on a completed page

    def feed(self, text: str) -> list[PageLines]:
        self._pending.append(text)
        self._pending_len += len(text)
        if self._pending_len < self._next_try:
            return []
        return self._wrap(False)

    def finish(self) -> tuple[list[PageLines], PageLines]:
        done = self._wrap(True)
        return done, self.pager.finish()

    def _wrap(self, final: bool) -> list[PageLines]:
        """Give the pending text up to its last cut to the paragraph (all of it if final), and
        hand the final lines to the frame filler: the pages completed."""
        done, text = self._close_full_groups("".join(self._pending))
        if final:
            done += self._close_group(text)
            self._pending = []
            return done
        rest = self._add_up_to_cut(text)
        return done + self._release(rest)

    def _close_full_groups(self, text: str) -> tuple[list[PageLines], str]:
        """Close the groups whose 30th line ends in ``text``; returns their pages and the text
        after the last one closed."""
        done: list[PageLines] = []
        while True:
            left = LINES_PER_PARAGRAPH - self._newlines
            if text.count("\n") < left:
                return done, text
            idx = -1
            for _ in range(left):
                idx = text.index("\n", idx + 1)
            done += self._close_group(text[:idx])
            self._new_group()
            text = text[idx + 1 :]
            self._scanned = 0

    def _add_up_to_cut(self, text: str) -> str:
        """Give the open paragraph the text up to its last cut; the rest stays pending."""
        m = _LAST_CUT.match(text, max(0, self._scanned - 2))
        if m is None:
            rest = text
            self._scanned = len(text)
        else:
            cut = m.end()
            piece = text[:cut]
            rest = text[cut:]
            self._scanned = 0
            self._next_peek = PEEK_CHARS
            self._newlines += piece.count("\n")
            self._par.add(piece)
        self._pending = [rest]
        self._pending_len = len(rest)
        self._next_try = len(rest) + BATCH_CHARS
        return rest

    def _release(self, rest: str) -> list[PageLines]:
        """Hand the paragraph's newly final lines (and those a long word still growing in
        ``rest`` already fixes) to the frame filler: the pages completed."""
        par = self._par
        n = par.final_count()
        new = par.lines[self._known : n]
        if len(rest) >= self._next_peek:  # a long word still growing: maybe cut already
            self._next_peek = len(rest) + max(PEEK_CHARS, len(rest) // 4)
            if n == len(par.lines):
                extra = par.peek(rest.rstrip(WHITESPACE))
                new += extra[max(0, self._known - n) :]
                n += len(extra)
        if not new:
            return []
        self._open.extend(new)
        self._known = max(n, self._known)
        pages, self._open = self.pager.release(self._open)
        return pages

    def _close_group(self, tail: str) -> list[PageLines]:
        lines = self._par.finish(tail)
        self._open.extend(lines[self._known :])
        return self.pager.add(latin_laid_out(self._open))


class _GroupEngine:
    """CJK mode: each 30-line group laid out once, when complete."""

    def __init__(self, style: PageStyle) -> None:
        self._style = style
        self.pager = Pager(style)
        self._group: list[str] = []  # complete, prepared source lines of the open paragraph
        self._partial = ""  # the current line, not yet ended by '\n'

    def _layout_group(self, lines: list[str]) -> list[PageLines]:
        par = paragraph_frags(lines)
        lo = _layout_paragraph(par, self._style, measurer(self._style), True)
        return self.pager.add(lo)

    def feed(self, text: str) -> list[PageLines]:
        if "\n" not in text:
            self._partial += text
            return []
        parts = (self._partial + text).split("\n")
        self._partial = parts.pop()
        done: list[PageLines] = []
        for line in prepare_lines("\n".join(parts)):
            self._group.append(line)
            if len(self._group) == LINES_PER_PARAGRAPH:
                done.extend(self._layout_group(self._group))
                self._group = []
        return done

    def finish(self) -> tuple[list[PageLines], PageLines]:
        self._group.extend(prepare_lines(self._partial))
        done = self._layout_group(self._group)
        self._group = []
        return done, self.pager.finish()


class PageStream:
    """Incremental :func:`renderer.render_pages`. Not thread-safe: one stream per request."""

    def __init__(self, style: PageStyle = DEFAULT_STYLE, *, max_pages: int | None = None) -> None:
        get_metrics(style.font_path)  # fail fast with FontNotFoundError
        self.style = style
        self.max_pages = max_pages
        self._engine: _LatinEngine | _GroupEngine = _LatinEngine(style)
        self._cjk: bool | None = None  # None: open (no page handed out, no CJK seen)
        self._history: list[str] | None = []  # the text so far, while the mode is open
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

    def feed(self, chunk: str) -> list[Image.Image]:
        """Add text; return the pages that became final (possibly none)."""
        if self._closed:
            raise ValueError("feed() after flush()")
        if not chunk:
            return []
        if self._full():  # no more pages, but say if they were laid out in the wrong mode
            if self._cjk is False and not self._seen_cjk and contains_cjk(chunk):
                self._seen_cjk = self.mode_diverged = True
            return []
        chunk = _clean(chunk)
        if not chunk:
            return []
        # Only a call when it has work: one per (token-sized) chunk cost 1.4% of PageStream.
        if self._history is not None or (not self._seen_cjk and contains_cjk(chunk)):
            chunk = self._watch_mode(chunk)
        done = self._engine.feed(chunk)
        if not done:
            return []
        if self._cjk is None:
            self._cjk = False
            self._history = None
        return self._render(done, False)

    def _watch_mode(self, chunk: str) -> str:
        """Follow the whole-text CJK rule; returns the text to feed (all of it on a restart)."""
        if not self._seen_cjk and contains_cjk(chunk):
            self._seen_cjk = True
            if self._cjk is None:  # nothing handed out yet: start over in CJK mode
                self._cjk = True
                chunk = "".join(self._history or ()) + chunk
                self._history = None
                self._engine = _GroupEngine(self.style)
            else:
                self.mode_diverged = True
        elif self._history is not None:
            self._history.append(chunk)
        return chunk

    def flush(self) -> list[Image.Image]:
        """End of text: lay out the rest and return the remaining pages."""
        if self._closed:
            return []
        self._closed = True
        if self._full():
            return []
        done, last = self._engine.finish()
        n_done = len(done)
        pages = [*done, last]
        if self.max_pages is not None:
            pages = pages[: max(0, self.max_pages - self._emitted)]
            truncated = len(pages) <= n_done
        else:
            truncated = False
        return self._render(pages, not truncated)
