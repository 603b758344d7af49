"""Incremental wrapping of a paragraph whose text is still arriving (default mode only).

Not a reportlab routine but a way of running one: ``Paragraph.breakLines`` (both paths) is
greedy, line by line, so :class:`renderer.layout.multi.MultiWrap` and
:class:`renderer.layout.simple.SimpleWrap` can take the paragraph's words as they arrive (cut
by ``_getFragWords``, :class:`renderer.layout.words.WordSplitter`) and a line is final as soon
as the first word of the next line is known. :class:`renderer.stream.PageStream` builds on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from renderer.layout.lines import Line, Measurer
from renderer.layout.multi import MultiWrap
from renderer.layout.simple import SimpleWrap
from renderer.layout.words import WordSplitter
from renderer.style import PageStyle
from renderer.text import BR, SPECIAL_FRAGS, segment_frags

__all__ = ["OpenParagraph"]


class OpenParagraph:
    """A 30-line group in the default (non-CJK) mode, wrapped while its text arrives.

    Text comes in pieces cut as :func:`renderer.text.segment_frags` requires, so every word
    before a cut is finished. reportlab's wrap is greedy, line by line: a line is final once
    the first word of the next line is known, and :class:`MultiWrap` only emits such lines.
    Which of reportlab's two paths the paragraph takes is only known at its end: the
    single-fragment path if it is one fragment (one source line without entities or no-break
    spaces), else the multi-fragment one. Their float sums differ in the last bits and they cut
    words wider than a line differently, so while the single-fragment path is still possible
    both run, and only lines on which they agree are final. Work is proportional to the text
    added.
    """

    def __init__(self, style: PageStyle, m: Measurer) -> None:
        self._words = WordSplitter(m)
        self._multi = MultiWrap(style, m)
        self._simple: SimpleWrap | None = SimpleWrap(style, m)
        self._started = False  # a piece was added: the next one does not start the group
        self._nfrags = 0  # the paragraph's fragments so far (pieces of one text frag count once)
        self._last_text = False  # the last fragment so far is a text fragment
        self._agreed = 0  # leading lines on which both paths agree
        self._disagree = False  # they differ: only the final path's lines count

    @property
    def lines(self) -> list[Line]:
        """The multi-fragment path's lines; the first ``final_count()`` are final."""
        return self._multi.lines

    def add(self, piece: str) -> None:
        self._feed(segment_frags(piece, not self._started, False))

    def _feed(self, frags: list[str | None]) -> None:
        self._started = True
        if not frags:
            return
        self._multi.push(self._words.feed(frags))
        simple = self._simple
        if simple is None:
            return
        self._nfrags, self._last_text = _count_frags(frags, self._nfrags, self._last_text)
        if self._nfrags > 1:
            self._simple = None
        else:
            simple.push([w for f in frags if f is not None for w in f.split()])

    def final_count(self) -> int:
        """How many leading lines can no longer change, whatever text follows."""
        lines = self._multi.lines
        simple = self._simple
        if simple is None:
            return len(lines)
        if not self._disagree:
            other = simple.lines
            a = self._agreed
            k = min(len(lines), len(other))
            while a < k and lines[a] == other[a]:
                a += 1
            self._agreed = a
            self._disagree = a < k
        return self._agreed

    def peek(self, partial: str) -> list[Line]:
        """The lines after ``lines`` that a word still growing already fixes.

        ``partial``: the text after the last cut, trailing whitespace removed, so the last word
        is a prefix of a word to come. If that prefix is wider than a line (so the whole word
        will be too), reportlab cuts it character by character: the first piece ends the
        current line and every further piece but the last fills a line of its own, and those
        only depend on the characters already there. Otherwise nothing is fixed. Costs
        O(len(partial)): call it for geometrically growing prefixes.
        """
        if self._disagree or not partial:
            return []
        simple = self._simple
        n = len(self._multi.lines)
        if simple is not None and not (len(simple.lines) == n == self._agreed):
            return []
        frags = segment_frags(partial, not self._started, False)
        if not frags:
            return []
        splitter = self._words.clone()
        words = splitter.feed(frags) + splitter.finish()
        got = _try_last_word(self._multi.clone(), words)
        if not got or simple is None or not self._may_stay_one_frag(frags):
            return got  # only the multi-fragment path counts
        other = _try_last_word(simple.clone(), [w for f in frags if f for w in f.split()])
        k = 0
        for a, b in zip(got, other, strict=False):
            if a != b:
                break
            k += 1
        return got[:k]

    def _may_stay_one_frag(self, frags: list[str | None]) -> bool:
        """Whether the paragraph is still one fragment with ``frags`` (text only) added."""
        if any(f is BR or f in SPECIAL_FRAGS for f in frags):
            return False
        return _count_frags(frags, self._nfrags, self._last_text)[0] <= 1

    def finish(self, piece: str) -> list[Line]:
        """The last piece (its end is the group's end): all of the paragraph's lines."""
        self._feed(segment_frags(piece, not self._started, True))
        self._multi.push(self._words.finish())
        lines = self._multi.finish()
        if self._simple is not None and self._nfrags == 1:
            return self._simple.finish()
        return lines


def _count_frags(frags: Sequence[str | None], nfrags: int, last_text: bool) -> tuple[int, bool]:
    """The paragraph's fragment count (2 stands for "more than one" after a <br/>) and whether
    its last fragment is text, after ``frags``: a text fragment cut in pieces counts once."""
    for f in frags:
        if f is BR:
            nfrags = 2
        elif f in SPECIAL_FRAGS:
            nfrags += 1
            last_text = False
        elif not last_text:
            nfrags += 1
            last_text = True
    return nfrags, last_text


def _try_last_word(wrap: MultiWrap | SimpleWrap, words: list[Any]) -> list[Line]:
    """Push words into a scratch wrap whose last word may still grow: the lines that are
    final, which is all of them if that word is cut (a longer word is cut the same way up to
    its last piece), else only those before it."""
    if not words:
        return []
    wrap.push(words[:-1])
    before = len(wrap.lines)
    splits = wrap.splits
    wrap.push(words[-1:])
    return wrap.lines if wrap.splits > splits else wrap.lines[:before]
