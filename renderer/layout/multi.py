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


class MultiWrap:
    """Paragraph.breakLines (multi-fragment path) as a resumable greedy state machine.

    ``push`` takes finished words and appends every line they complete to ``lines``; a line
    only depends on its own words and the first word of the next line, so lines in ``lines``
    never change when more words follow. ``finish`` ends the paragraph (the line in progress,
    if any, is the last line: an empty line after the last <br/> is not one).
    """

    __slots__ = (
        "_closed", "_current", "_in_line", "_m", "_max_width", "_n", "_space_width", "_sw",
        "_texts", "lines", "splits",
    )  # fmt: skip

    def __init__(self, style: PageStyle, m: Measurer) -> None:
        self._m = m
        self._max_width = style.text_width
        self._sw = m.space
        self.lines: list[Line] = []
        self._texts: list[str] = []  # the line's fragment texts
        self._closed = (0.0, 0.0)  # space-shrink partial sums over texts[:-1], from 0 and sw
        self._n = 0  # the line's word count (reportlab's wordCount)
        self._space_width: float = 0  # the hanging space after the line's last word
        self._current: float = 0  # the line's width so far
        self._in_line = False
        self.splits = 0  # words cut character by character so far

    def clone(self) -> MultiWrap:
        """A copy in the same state with no lines yet (to try words out)."""
        c = MultiWrap.__new__(MultiWrap)
        c._m, c._max_width, c._sw = self._m, self._max_width, self._sw
        c.lines = []
        c._texts = list(self._texts)
        c._closed, c._n, c._space_width = self._closed, self._n, self._space_width
        c._current, c._in_line, c.splits = self._current, self._in_line, self.splits
        return c

    def push(self, words: list[Word]) -> None:
        # One function on purpose: this is the per-word loop of the whole layout, its state
        # lives in locals; see the module docstring of renderer.layout for the measurement.
        if not words:
            return
        max_width = self._max_width
        sw = self._sw
        lines = self.lines
        texts = self._texts
        closed = self._closed
        n = self._n
        space_width = self._space_width
        current = self._current
        in_line = self._in_line
        stack = words[::-1]
        while stack:
            w = stack.pop()
            if not in_line:
                n = 0
                space_width = 0
                current = 0
            word_width = w.width
            new_width = current + space_width + word_width if word_width > 0 else current
            line_break = w.kind != TEXT
            # limWidth = maxWidth + 0.05 * (spaceWidth + sum(count(' ') * sw) over line frags)
            if in_line:
                shrink = closed[1] if space_width else closed[0]
                ns = texts[-1].count(" ")
                if ns:
                    shrink += ns * sw
            else:
                shrink = space_width
            lim_width = max_width + shrink * SHRINK
            if (
                not line_break
                and new_width > lim_width
                and w.split == NOSPLIT
                and word_width > max_width
            ):
                self._cut(w, max_width - space_width - current, stack)
                continue
            if (new_width <= lim_width or n == 0) and not line_break:  # the word joins the line
                ntext = w.pieces[0]
                if ntext:
                    n += 1
                if not in_line:
                    texts = [ntext]
                    closed = (0.0, sw)
                    in_line = True
                elif space_width and not texts[-1].endswith(" "):
                    texts[-1] += " " + ntext
                else:
                    texts[-1] += ntext
                space_width = sw if w.hs else 0
                if len(w.pieces) > 1:
                    closed, more = _add_pieces(texts, w.pieces, closed, sw)
                    if not ntext and more:
                        n += 1
                current = new_width
                continue
            if line_break:
                texts.append("")
            lines.append(_make_line(texts, max_width - current, n, w.kind == BREAK))
            if line_break:
                in_line = False
                texts = []
                continue
            space_width = sw if w.hs else 0  # the word starts the next line
            current = word_width
            n = 1
            texts = [w.pieces[0]]
            closed, _ = _add_pieces(texts, w.pieces, (0.0, sw), sw)
            in_line = True
        self._texts = texts
        self._closed = closed
        self._n = n
        self._space_width = space_width
        self._current = current
        self._in_line = in_line

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
        if self._in_line:
            self.lines.append(
                _make_line(self._texts, self._max_width - self._current, self._n, False)
            )
            self._in_line = False
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
