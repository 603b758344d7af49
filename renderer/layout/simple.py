"""Latin wrapping, single-fragment path: reportlab's ``Paragraph.breakLines`` "case A".

A paragraph that is one fragment (one source line without entities or no-break spaces) is
wrapped over its whitespace-split words with different float sums from the multi-fragment
path: the line's width starts at minus one space width, and the 5% space shrink is counted
per word already on the line (``dSpaceShrink * len(cLine)``). A word wider than a line is cut
by ``_splitWord``: its pieces are ``_SplitWord``s that end their line. The line's ``Tw`` is
set by ``_leftDrawParaLine``.
"""

from __future__ import annotations

from renderer.layout.lines import SHRINK, Line, Measurer, word_space
from renderer.style import PageStyle

__all__ = ["SimpleWrap", "break_lines_simple"]


class _SplitWord(str):
    """A piece of a cut word (reportlab's ``_SplitWord``): it ends its line."""


class _SplitWordEnd(_SplitWord):
    """The last piece (reportlab's ``_SplitWordEnd``)."""


def _split_word(word: str, line_width: float, max_width: float, m: Measurer) -> list[str]:
    """_splitWord: the first piece fills the current line from ``line_width``."""
    out: list[str] = []
    text = ""
    for c in word:
        cw = m.char(c)
        new_line_width = line_width + cw
        if new_line_width > max_width and (text or (not text and cw <= max_width)):
            out.append(_SplitWord(text))
            new_line_width = cw
            text = ""
        text += c
        line_width = new_line_width
    out.append(_SplitWordEnd(text))
    return out


class SimpleWrap:
    """Paragraph.breakLines (single-fragment path) as a resumable greedy state machine.

    Same contract as :class:`renderer.layout.multi.MultiWrap`; words are the fragment's
    whitespace-split words.
    """

    __slots__ = ("_cline", "_current", "_d_shrink", "_m", "_max_width", "_sw", "lines", "splits")

    def __init__(self, style: PageStyle, m: Measurer) -> None:
        self._m = m
        self._max_width = style.text_width
        self._sw = m.space
        self._d_shrink = SHRINK * self._sw
        self.lines: list[Line] = []
        self._cline: list[str] = []
        self._current = -self._sw
        self.splits = 0

    def clone(self) -> SimpleWrap:
        """A copy in the same state with no lines yet (to try words out)."""
        c = SimpleWrap.__new__(SimpleWrap)
        c._m, c._max_width, c._sw, c._d_shrink = self._m, self._max_width, self._sw, self._d_shrink
        c.lines = []
        c._cline = list(self._cline)
        c._current, c.splits = self._current, self.splits
        return c

    def push(self, new_words: list[str]) -> None:
        if not new_words:
            return
        words = new_words[::-1]
        m = self._m
        max_width = self._max_width
        sw = self._sw
        d_shrink = self._d_shrink
        lines = self.lines
        cline = self._cline
        current = self._current
        forced = False
        while words:
            word = words.pop()
            if not word and isinstance(word, _SplitWord):
                forced = True
            word_width = m.width(word)
            new_width = current + sw + word_width
            lim_width = max_width + d_shrink * len(cline)
            if (
                new_width > lim_width
                and not forced
                and not isinstance(word, _SplitWord)
                and word_width > max_width
            ):
                self.splits += 1
                pieces = _split_word(word, current + sw, max_width, m)
                pieces.reverse()
                words.extend(pieces)
                forced = True
                continue
            if new_width <= lim_width or not cline or forced:
                if word:
                    cline.append(word)
                if forced:
                    forced = False
                    lines.append(_simple_line(max_width - new_width, cline))
                    cline = []
                    current = -sw
                else:
                    current = new_width
            else:
                lines.append(_simple_line(max_width - current, cline))
                cline = [word]
                current = word_width
        self._cline = cline
        self._current = current

    def finish(self) -> list[Line]:
        if self._cline:
            self.lines.append(_simple_line(self._max_width - self._current, self._cline))
            self._cline = []
        return self.lines


def _simple_line(extra: float, ws: list[str]) -> Line:
    return Line(" ".join(ws), word_space(extra, len(ws) - 1), False)


def break_lines_simple(text: str, style: PageStyle, m: Measurer) -> list[Line]:
    wrap = SimpleWrap(style, m)
    wrap.push(text.strip(" ").split())
    return wrap.finish()
