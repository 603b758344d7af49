"""Latin wrapping, multi-fragment path: reportlab's ``Paragraph.breakLines`` "case B".

A paragraph of more than one fragment (several source lines joined by <br/>, or text with
entities or no-break spaces) is wrapped greedily over the words of ``_getFragWords``
(:mod:`renderer.layout.words`): a word joins the line if the line stays within the text width
plus 5% of the width of every space on it (``spaceShrinkage``), else it starts the next line;
a <br/> ends the line; a word wider than a line is cut by ``_splitFragWord``. The line's
``Tw`` is its overrun shared among its words and no-break spaces (``_leftDrawParaLineX``).
"""

from __future__ import annotations

from renderer.layout.lines import SHRINK, Line, Measurer, word_space
from renderer.layout.words import BREAK, INJECTED, NOSPLIT, TEXT, Word, frag_words, split_frag_word
from renderer.style import PageStyle

__all__ = ["MultiWrap", "break_lines_multi"]

_LineState = tuple[list[str], tuple[float, float], int, float, float, bool]


class MultiWrap:
    """Paragraph.breakLines (multi-fragment path) as a resumable greedy state machine.

    ``push`` takes finished words and appends every line they complete to ``lines``; a line
    only depends on its own words and the first word of the next line, so lines in ``lines``
    never change when more words follow. ``finish`` ends the paragraph (the line in progress,
    if any, is the last line: an empty line after the last <br/> is not one).
    """

    __slots__ = ("_line", "_m", "_max_width", "_sw", "lines", "splits")

    def __init__(self, style: PageStyle, m: Measurer) -> None:
        self._m = m
        self._max_width = style.text_width
        self._sw = m.space
        self.lines: list[Line] = []
        self.splits = 0  # words cut character by character so far
        # The line in progress: its fragment texts; the space-shrink partial sums over all
        # texts but the last, from 0 and from sw; its word count (reportlab's wordCount); the
        # hanging space after its last word; its width so far; whether there is one.
        self._line: _LineState = ([""], (0.0, 0.0), 0, 0, 0, False)

    def clone(self) -> MultiWrap:
        """A copy in the same state with no lines yet (to try words out)."""
        c = MultiWrap.__new__(MultiWrap)
        c._m, c._max_width, c._sw, c.splits = self._m, self._max_width, self._sw, self.splits
        c.lines = []
        texts, closed, n, space_width, current, in_line = self._line
        c._line = (list(texts), closed, n, space_width, current, in_line)
        return c

    def push(self, words: list[Word]) -> None:
        """Wrap more finished words: every line they complete is appended to ``lines``."""
        max_width, sw, lines = self._max_width, self._sw, self.lines
        texts, closed, n, space_width, current, in_line = self._line
        stack = words[::-1]
        while stack:
            w = stack.pop()
            if in_line:  # limWidth = maxWidth + 0.05 * (spaceWidth + the line's spaces * sw)
                shrink = (closed[1] if space_width else closed[0]) + texts[-1].count(" ") * sw
            else:
                texts, closed, n, space_width, current, shrink = [""], (0.0, sw), 0, 0, 0, 0
            word_width = w.width
            new_width = current + space_width + word_width if word_width > 0 else current
            lim_width = max_width + shrink * SHRINK
            if w.kind != TEXT:  # a <br/>, or the end of a cut word's first piece
                lines.append(_make_line(texts, max_width - current, n, w.kind == BREAK))
                in_line = False
            elif new_width > lim_width and w.split == NOSPLIT and word_width > max_width:
                self._cut(w, max_width - space_width - current, stack)
            elif new_width <= lim_width or n == 0:  # the word joins the line
                ntext = w.pieces[0]
                if ntext:
                    n += 1
                texts[-1] += " " + ntext if space_width and not texts[-1].endswith(" ") else ntext
                if len(w.pieces) > 1:
                    closed, more = _add_pieces(texts, w.pieces, closed, sw)
                    if more and not ntext:
                        n += 1
                space_width = sw if w.hs else 0
                current = new_width
                in_line = True
            else:  # the line is full: the word starts the next one
                lines.append(_make_line(texts, max_width - current, n, False))
                texts, n, current = [w.pieces[0]], 1, word_width
                closed, _ = _add_pieces(texts, w.pieces, (0.0, sw), sw)
                space_width = sw if w.hs else 0
        self._line = (texts, closed, n, space_width, current, in_line)

    def _cut(self, w: Word, room: float, stack: list[Word]) -> None:
        """A word wider than a line: its pieces go back on the stack, the first (which fills
        the ``room`` left on the current line) followed by reportlab's injected line end."""
        self.splits += 1
        parts = split_frag_word(w, room, self._max_width, self._m)
        rest = parts[1:]
        rest.reverse()
        stack.extend(rest)
        stack.append(Word(0, [""], False, INJECTED))
        stack.append(parts[0])

    def finish(self) -> list[Line]:
        texts, _, n, _, current, in_line = self._line
        if in_line:
            self.lines.append(_make_line(texts, self._max_width - current, n, False))
            self._line = ([""], (0.0, 0.0), 0, 0, 0, False)
        return self.lines


def break_lines_multi(frags: tuple[str | None, ...], style: PageStyle, m: Measurer) -> list[Line]:
    wrap = MultiWrap(style, m)
    wrap.push(frag_words(frags, m))
    return wrap.finish()


def _add_pieces(
    texts: list[str], pieces: list[str], closed: tuple[float, float], sw: float
) -> tuple[tuple[float, float], bool]:
    """Append a word's pieces after its first (one per further fragment) to the line's texts,
    folding each finished text's spaces into both running shrink sums. Also returns whether
    a further piece is non-empty."""
    more = False
    for p in pieces[1:]:
        ns = texts[-1].count(" ")
        if ns:
            closed = (closed[0] + ns * sw, closed[1] + ns * sw)
        texts.append(p)
        if p:
            more = True
    return closed, more


def _make_line(texts: list[str], extra: float, n: int, ends_break: bool) -> Line:
    text = "".join(texts)
    ws = 0.0
    if extra <= -1e-8:
        ws = word_space(extra, n + text.count("\xa0") - 1)
    return Line(text, ws, ends_break)
