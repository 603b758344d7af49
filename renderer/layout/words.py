"""Fragments to words for the multi-fragment path: reportlab's ``_getFragWords`` and
``_splitFragWord``.

A word is what lies between whitespace, and it may span fragments ("a&b" is one word of three
fragments): it keeps one text piece per fragment, because reportlab measures a word as the sum
of its pieces' widths, and that float sum decides line breaks. ``hs`` ("hanging space") says
whether whitespace followed the word. ``_splitFragWord`` cuts a word wider than a line
character by character, the first piece filling what is left of the current line.
"""

from __future__ import annotations

import string

from renderer.layout.lines import Measurer
from renderer.text import BR

__all__ = ["BREAK", "INJECTED", "NOSPLIT", "SPLIT", "SPLIT_H", "TEXT", "Word", "WordSplitter"]

_PY_WS = string.whitespace

#: Word kinds: text, a <br/> (``lineBreak`` fragment), the empty word reportlab injects after
#: the first piece of a cut word (``_InjectedFrag``) to end that line.
TEXT, BREAK, INJECTED = 0, 1, 2
#: Cut pieces: not cut, ``_SplitFrag``, ``_SplitFragH`` (the last piece, no hanging space).
NOSPLIT, SPLIT, SPLIT_H = 0, 1, 2


class Word:
    __slots__ = ("hs", "kind", "pieces", "split", "width")

    def __init__(
        self, width: float, pieces: list[str], hs: bool, kind: int = TEXT, split: int = 0
    ) -> None:
        self.width = width
        self.pieces = pieces
        self.hs = hs
        self.kind = kind
        self.split = split


class WordSplitter:
    """_getFragWords as a state machine: fragments in, finished words out.

    Feeding a paragraph's fragments in any number of calls gives the same words as one call,
    provided a text fragment is only ever cut right after a whitespace character (then the
    word before the cut is finished either way). ``finish`` flushes the last word.
    """

    __slots__ = ("_any_frag", "_any_word", "_hanging_strip", "_last_hs", "_m", "_n", "_pieces")

    def __init__(self, m: Measurer) -> None:
        self._m = m
        self._pieces: list[str] = []
        self._n = 0.0
        self._hanging_strip = True
        self._last_hs = False
        self._any_word = False
        self._any_frag = False

    def feed(self, frags: list[str | None] | tuple[str | None, ...]) -> list[Word]:
        out: list[Word] = []
        if not frags:
            return out
        self._any_frag = True
        for frag in frags:
            if frag is BR:
                self._break(out)
            elif not self._hanging_strip:
                self._text(frag, out)
            elif text := frag.lstrip(" "):  # leading spaces of a line are dropped
                self._hanging_strip = False
                self._text(text, out)
        if out:
            self._any_word = True
        return out

    def _break(self, out: list[Word]) -> None:
        """A <br/>: ends the word in progress and is a word of its own."""
        if self._pieces:
            out.append(Word(self._n, self._pieces, False))
            self._pieces, self._n = [], 0.0
        out.append(Word(0, [""], False, BREAK))
        self._last_hs = False
        self._hanging_strip = True

    def _text(self, text: str, out: list[Word]) -> None:
        """One text fragment: the words it finishes go to ``out``, its last unfinished one
        (no whitespace after it) stays in ``_pieces`` to continue in the next fragment."""
        pieces = self._pieces
        n = self._n
        parts = text.split() if text != "\xa0" else ["\xa0"]
        if text[0] in _PY_WS or not parts:  # whitespace ends the word in progress
            if pieces:
                out.append(Word(n, pieces, False))
                pieces, n = [], 0.0
                self._last_hs = whs = False
            else:
                whs = self._last_hs
            if not whs:
                parts.insert(0, "")
            elif not parts:
                return
        width = self._m.width
        for w in parts[:-1]:
            pieces.append(w)
            out.append(Word(n + width(w), pieces, True))
            pieces, n = [], 0.0
        w = parts[-1]
        pieces.append(w)
        n += width(w)
        if text[-1] in _PY_WS:
            out.append(Word(n, pieces, True))
            pieces, n = [], 0.0
        if len(parts) > 1 or not pieces:
            self._last_hs = True
        self._pieces = pieces
        self._n = n

    def clone(self) -> WordSplitter:
        c = WordSplitter(self._m)
        c._pieces = list(self._pieces)
        c._n = self._n
        c._hanging_strip = self._hanging_strip
        c._last_hs = self._last_hs
        c._any_word = self._any_word
        c._any_frag = self._any_frag
        return c

    def finish(self) -> list[Word]:
        out: list[Word] = []
        if self._pieces:
            out.append(Word(self._n, self._pieces, False))
            self._pieces, self._n = [], 0.0
        elif not self._any_word and self._any_frag:
            out.append(Word(0, [""], False))
        if out:
            self._any_word = True
        return out


def frag_words(frags: tuple[str | None, ...], m: Measurer) -> list[Word]:
    """_getFragWords for a whole paragraph's fragments."""
    ws = WordSplitter(m)
    return ws.feed(frags) + ws.finish()


def split_frag_word(w: Word, max_width: float, max_next: float, m: Measurer) -> list[Word]:
    """_splitFragWord: cut a too-long word character by character (the first piece gets
    ``max_width``, every further one ``max_next``)."""
    out: list[Word] = []
    cur: list[str] = []
    line_width = 0.0
    frag_text = ""
    word_width = 0.0
    char = m.char
    for pi, piece in enumerate(w.pieces):
        items = list(piece) if piece else [""]
        for ci, c in enumerate(items):
            cw = char(c)
            new_line_width = line_width + cw
            too_long = new_line_width > max_width and bool(
                word_width or (not word_width and cw <= max_next)
            )
            if (pi > 0 and ci == 0) or too_long:
                cur.append(frag_text)
                if too_long:
                    out.append(Word(word_width, cur, False, TEXT, SPLIT))
                    max_width = max_next
                    cur = []
                    new_line_width = cw
                    word_width = 0.0
                frag_text = ""
            word_width += cw
            frag_text += c
            line_width = new_line_width
    cur.append(frag_text)
    out.append(Word(word_width, cur, w.hs, TEXT, SPLIT if w.hs else SPLIT_H))
    return out
