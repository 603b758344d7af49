"""Line breaking and page breaking, reproducing reportlab 5.1's Paragraph/Frame behaviour.

This is a behavioural port of the parts of ``reportlab.platypus.paragraph`` that the
reference configuration exercises (left alignment, no hyphenation, 5% space shrinkage, long
words split character by character, the CJK "dumb" wrap) written against our own fragment
representation. Float operations are kept in the same order as reportlab's, because line
breaks are decided by comparing those floats.

A laid-out line is what gets drawn: its characters (as reportlab emits them) and the PDF word
spacing ``Tw`` poppler adds to every code-32 byte (space and no-break space) on that line.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from renderer.fonts import FontMetrics
from renderer.style import PageStyle
from renderer.text import BR, SPECIAL_FRAGS, Paragraph, segment_frags

__all__ = [
    "Line",
    "Measurer",
    "OpenParagraph",
    "PageLines",
    "Pager",
    "latin_laid_out",
    "layout_paragraph",
    "paginate",
]

_FUZZ = 1e-6
_SHRINK = 0.05  # reportlab's spaceShrinkage
_PY_WS = string.whitespace
_CANNOT_START = (
    "!',.:;?!\")]\u3001\u3002\u300d\u300f\u3011\u3015\uff3d\u3011\uff09"
    "\u3005\u2015\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
    "\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30fc\u30f5\u30f6"
    "\u309b\u309c\u30fb\u30fd\u30fe\u309d\u309e\u2015\u2010\xb0\u2032\u2033\u2103\uffe0\uff05\u2030"
)


@dataclass(frozen=True)
class Line:
    """One drawn line: text as emitted, word spacing, and whether a <br/> ended it."""

    text: str
    word_space: float = 0.0
    ends_break: bool = False


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


def _word_space(extra: float, n_spaces: int) -> float:
    return extra / float(n_spaces) if extra <= -1e-8 and n_spaces > 0 else 0.0


# ----------------------------------------------------------------------------------------------
# Latin wrapping, multi-fragment path (Paragraph.breakLines, "case B")

_TEXT, _BREAK, _INJECTED = 0, 1, 2
_NOSPLIT, _SPLIT, _SPLIT_H = 0, 1, 2  # _SplitFrag / _SplitFragH (last piece, no hanging space)


class _Word:
    __slots__ = ("hs", "kind", "pieces", "split", "width")

    def __init__(
        self, width: float, pieces: list[str], hs: bool, kind: int = _TEXT, split: int = 0
    ) -> None:
        self.width = width
        self.pieces = pieces
        self.hs = hs
        self.kind = kind
        self.split = split


class _WordSplitter:
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

    def feed(self, frags: list[str | None] | tuple[str | None, ...]) -> list[_Word]:
        out: list[_Word] = []
        if not frags:
            return out
        self._any_frag = True
        pieces = self._pieces
        n = self._n
        hanging_strip = self._hanging_strip
        last_hs = self._last_hs
        width = self._m.width
        for frag in frags:
            if frag is BR:
                if pieces:
                    out.append(_Word(n, pieces, False))
                    pieces, n = [], 0.0
                out.append(_Word(0, [""], False, _BREAK))
                last_hs = False
                hanging_strip = True
                continue
            text = frag
            if hanging_strip:
                text = text.lstrip(" ")
                if not text:
                    continue
                hanging_strip = False
            parts = text.split() if text != "\xa0" else ["\xa0"]
            if text[0] in _PY_WS or not parts:
                if pieces:
                    out.append(_Word(n, pieces, False))
                    pieces, n = [], 0.0
                    last_hs = whs = False
                else:
                    whs = last_hs
                if not whs:
                    parts.insert(0, "")
                elif not parts:
                    continue
            for w in parts[:-1]:
                pieces.append(w)
                n += width(w)
                out.append(_Word(n, pieces, True))
                last_hs = True
                pieces, n = [], 0.0
            w = parts[-1]
            pieces.append(w)
            n += width(w)
            if text[-1] in _PY_WS:
                out.append(_Word(n, pieces, True))
                last_hs = True
                pieces, n = [], 0.0
        self._pieces = pieces
        self._n = n
        self._hanging_strip = hanging_strip
        self._last_hs = last_hs
        if out:
            self._any_word = True
        return out

    def clone(self) -> _WordSplitter:
        c = _WordSplitter(self._m)
        c._pieces = list(self._pieces)
        c._n = self._n
        c._hanging_strip = self._hanging_strip
        c._last_hs = self._last_hs
        c._any_word = self._any_word
        c._any_frag = self._any_frag
        return c

    def finish(self) -> list[_Word]:
        out: list[_Word] = []
        if self._pieces:
            out.append(_Word(self._n, self._pieces, False))
            self._pieces, self._n = [], 0.0
        elif not self._any_word and self._any_frag:
            out.append(_Word(0, [""], False))
        if out:
            self._any_word = True
        return out


def _frag_words(frags: tuple[str | None, ...], m: Measurer) -> list[_Word]:
    """_getFragWords for unprocessed fragments."""
    ws = _WordSplitter(m)
    return ws.feed(frags) + ws.finish()


def _split_frag_word(w: _Word, max_width: float, max_next: float, m: Measurer) -> list[_Word]:
    """_splitFragWord: cut a too-long word character by character."""
    out: list[_Word] = []
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
                    out.append(_Word(word_width, cur, False, _TEXT, _SPLIT))
                    max_width = max_next
                    cur = []
                    new_line_width = cw
                    word_width = 0.0
                frag_text = ""
            word_width += cw
            frag_text += c
            line_width = new_line_width
    cur.append(frag_text)
    out.append(_Word(word_width, cur, w.hs, _TEXT, _SPLIT if w.hs else _SPLIT_H))
    return out


class _MultiWrap:
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
        self._n = 0
        self._space_width: float = 0
        self._current: float = 0
        self._in_line = False
        self.splits = 0  # words cut character by character so far

    def clone(self) -> _MultiWrap:
        """A copy in the same state with no lines yet (to try words out)."""
        c = _MultiWrap.__new__(_MultiWrap)
        c._m, c._max_width, c._sw = self._m, self._max_width, self._sw
        c.lines = []
        c._texts = list(self._texts)
        c._closed, c._n, c._space_width = self._closed, self._n, self._space_width
        c._current, c._in_line, c.splits = self._current, self._in_line, self.splits
        return c

    def push(self, words: list[_Word]) -> None:
        if not words:
            return
        m = self._m
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
            line_break = w.kind != _TEXT
            # limWidth = maxWidth + 0.05 * (spaceWidth + sum(count(' ') * sw) over line frags)
            if in_line:
                shrink = closed[1] if space_width else closed[0]
                ns = texts[-1].count(" ")
                if ns:
                    shrink += ns * sw
            else:
                shrink = space_width
            lim_width = max_width + shrink * _SHRINK
            if (
                not line_break
                and new_width > lim_width
                and w.split == _NOSPLIT
                and word_width > max_width
            ):
                self.splits += 1
                parts = _split_frag_word(w, max_width - space_width - current, max_width, m)
                rest = parts[1:]
                rest.reverse()
                stack.extend(rest)
                stack.append(_Word(0, [""], False, _INJECTED))
                stack.append(parts[0])
                continue
            end_line = (new_width > lim_width and n > 0) or line_break
            if not end_line:
                ntext = w.pieces[0]
                if ntext:
                    n += 1
                if not in_line:
                    texts = [ntext]
                    closed = (0.0, sw)
                    in_line = True
                elif space_width:
                    if not texts[-1].endswith(" "):
                        texts[-1] += " " + ntext
                    else:
                        texts[-1] += ntext
                else:
                    texts[-1] += ntext
                space_width = sw if w.hs else 0
                if len(w.pieces) > 1:
                    ni = False
                    for p in w.pieces[1:]:
                        closed = _close(closed, texts[-1], sw)
                        texts.append(p)
                        if p:
                            ni = True
                    if not ntext and ni:
                        n += 1
                current = new_width
            else:
                if line_break:
                    texts.append("")
                lines.append(_make_line(texts, max_width - current, n, w.kind == _BREAK))
                if line_break:
                    in_line = False
                    texts = []
                    continue
                space_width = sw if w.hs else 0
                current = word_width
                n = 1
                texts = [w.pieces[0]]
                closed = (0.0, sw)
                for p in w.pieces[1:]:
                    closed = _close(closed, texts[-1], sw)
                    texts.append(p)
                in_line = True
        self._texts = texts
        self._closed = closed
        self._n = n
        self._space_width = space_width
        self._current = current
        self._in_line = in_line

    def finish(self) -> list[Line]:
        if self._in_line:
            self.lines.append(
                _make_line(self._texts, self._max_width - self._current, self._n, False)
            )
            self._in_line = False
        return self.lines


def _break_lines_multi(frags: tuple[str | None, ...], style: PageStyle, m: Measurer) -> list[Line]:
    wrap = _MultiWrap(style, m)
    wrap.push(_frag_words(frags, m))
    return wrap.finish()


def _close(closed: tuple[float, float], text: str, sw: float) -> tuple[float, float]:
    """Fold one finished fragment's spaces into both running shrink sums."""
    ns = text.count(" ")
    if not ns:
        return closed
    a, b = closed
    return (a + ns * sw, b + ns * sw)


def _make_line(texts: list[str], extra: float, n: int, ends_break: bool) -> Line:
    text = "".join(texts)
    ws = 0.0
    if extra <= -1e-8:
        ws = _word_space(extra, n + text.count("\xa0") - 1)
    return Line(text, ws, ends_break)


# ----------------------------------------------------------------------------------------------
# Latin wrapping, single-fragment path (Paragraph.breakLines, "case A")


class _SplitStr(str):
    pass


class _SplitStrEnd(_SplitStr):
    pass


def _split_word(
    word: str, line_width: float, max_width: float, m: Measurer
) -> list[str]:  # _splitWord
    out: list[str] = []
    text = ""
    for c in word:
        cw = m.char(c)
        new_line_width = line_width + cw
        if new_line_width > max_width and (text or (not text and cw <= max_width)):
            out.append(_SplitStr(text))
            new_line_width = cw
            text = ""
        text += c
        line_width = new_line_width
    out.append(_SplitStrEnd(text))
    return out


class _SimpleWrap:
    """Paragraph.breakLines (single-fragment path) as a resumable greedy state machine.

    Same contract as :class:`_MultiWrap`; words are the fragment's whitespace-split words.
    """

    __slots__ = ("_cline", "_current", "_d_shrink", "_m", "_max_width", "_sw", "lines", "splits")

    def __init__(self, style: PageStyle, m: Measurer) -> None:
        self._m = m
        self._max_width = style.text_width
        self._sw = m.space
        self._d_shrink = _SHRINK * self._sw
        self.lines: list[Line] = []
        self._cline: list[str] = []
        self._current = -self._sw
        self.splits = 0

    def clone(self) -> _SimpleWrap:
        """A copy in the same state with no lines yet (to try words out)."""
        c = _SimpleWrap.__new__(_SimpleWrap)
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
            if not word and isinstance(word, _SplitStr):
                forced = True
            word_width = m.width(word)
            new_width = current + sw + word_width
            lim_width = max_width + d_shrink * len(cline)
            if (
                new_width > lim_width
                and not forced
                and not isinstance(word, _SplitStr)
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
    return Line(" ".join(ws), _word_space(extra, len(ws) - 1), False)


def _break_lines_simple(text: str, style: PageStyle, m: Measurer) -> list[Line]:
    wrap = _SimpleWrap(style, m)
    wrap.push(text.strip(" ").split())
    return wrap.finish()


# ----------------------------------------------------------------------------------------------
# CJK wrapping (cjkFragSplit, and textsplit.dumbSplit for single fragments)

_U = tuple[str, float, bool]  # char ('' for an empty fragment), width, is line break


def _cjk_units(frags: list[tuple[str, bool]], m: Measurer) -> list[_U]:
    units: list[_U] = []
    char = m.char
    for text, is_break in frags:
        if text:
            units.extend((c, char(c), is_break) for c in text)
        else:
            units.append(("", 0.0, is_break))
    return units


def _is_space_or_wide(c: str) -> bool:
    return (bool(c) and unicodedata.category(c) == "Zs") or ord(c) >= 0x3000


def _cjk_split(units: list[_U], max_width: float) -> list[tuple[int, int, float, bool, bool]]:
    """Returns (start, stop, extraSpace, lineBreak, broken_in_loop) per line."""
    out: list[tuple[int, int, float, bool, bool]] = []
    i = 0
    width_used: float = 0
    start = 0
    nu = len(units)
    while i < nu:
        u, w, line_break = units[i]
        i += 1
        width_used += w
        if (width_used > max_width + _FUZZ and width_used > 0) or line_break:
            extra = max_width - width_used
            if not line_break:
                if ord(u) < 0x3000:
                    limit = (start + i) >> 1
                    for j in range(i - 1, limit, -1):
                        uj = units[j][0]
                        if _is_space_or_wide(uj):
                            k = j + 1
                            if k < i:
                                j = k + 1
                                extra += sum(units[ii][1] for ii in range(j, i))
                                u, w = units[k][0], units[k][1]
                                i = j
                                break
                if u not in _CANNOT_START and i > start + 1:
                    i -= 1
                    extra += w
            out.append((start, i, extra, line_break, True))
            start = i
            width_used = 0
    if width_used > 0:
        out.append((start, nu, max_width - width_used, False, False))
    return out


def _cjk_line(text: str, extra: float, ends_break: bool) -> Line:
    return Line(text, _word_space(extra, text.count("\xa0")), ends_break)


def _cjk_frag_lines(frags: list[tuple[str, bool]], style: PageStyle, m: Measurer) -> list[Line]:
    units = _cjk_units(frags, m)
    out = []
    for start, stop, extra, lb, _ in _cjk_split(units, style.text_width):
        out.append(_cjk_line("".join(u[0] for u in units[start:stop]), extra, lb))
    return out


def _cjk_simple_lines(text: str, style: PageStyle, m: Measurer) -> list[Line]:
    units = [(c, m.char(c), False) for c in text]
    out = []
    for start, stop, extra, _, in_loop in _cjk_split(units, style.text_width):
        t = text[start:stop]
        if in_loop:
            t = t.strip()
        out.append(Line(t, _word_space(extra, 0), False))
    return out


# ----------------------------------------------------------------------------------------------
# Paragraphs and pages


@dataclass
class LaidOut:
    """A paragraph's lines plus how to continue it after a page break at line s."""

    lines: list[Line]
    rest: Callable[[int], LaidOut]


def layout_paragraph(par: Paragraph, style: PageStyle, m: Measurer, cjk: bool) -> LaidOut:
    frags = par.frags
    if not frags:
        return LaidOut([], _no_rest)
    if cjk:
        if len(frags) == 1 and frags[0] is not BR:
            return _cjk_simple(frags[0], style, m)
        return _cjk_multi([(f if f is not BR else "", f is BR) for f in frags], style, m)
    if len(frags) == 1 and frags[0] is not BR:
        lines = _break_lines_simple(frags[0], style, m)
    else:
        lines = _break_lines_multi(frags, style, m)
    return _latin(lines)


def _no_rest(s: int) -> LaidOut:
    raise AssertionError("paragraph fits; nothing to continue")


def _latin(lines: list[Line]) -> LaidOut:
    def rest(s: int) -> LaidOut:
        tail = lines[s:]
        if lines[s - 1].ends_break:
            tail = [BLANK_BREAK_LINE, *tail]
        return _latin(tail)

    return LaidOut(lines, rest)


def _cjk_simple(text: str, style: PageStyle, m: Measurer) -> LaidOut:
    lines = _cjk_simple_lines(text, style, m)

    def rest(s: int) -> LaidOut:
        joined = "".join(ln.text for ln in lines[s:])
        return _cjk_simple(joined, style, m)

    return LaidOut(lines, rest)


def _cjk_multi(frags: list[tuple[str, bool]], style: PageStyle, m: Measurer) -> LaidOut:
    units = _cjk_units(frags, m)
    spans = _cjk_split(units, style.text_width)
    lines = [
        _cjk_line("".join(u[0] for u in units[a:b]), extra, lb) for a, b, extra, lb, _ in spans
    ]

    def rest(s: int) -> LaidOut:
        # _split_blParaHard: each line's fragments, a space appended to the last fragment of
        # every line but the last; a single text fragment takes the simple (dumbSplit) path.
        new: list[tuple[str, bool]] = []
        tail = spans[s:]
        for idx, (a, b, _, _, _) in enumerate(tail):
            line_frags = _group_units(units[a:b])
            if idx < len(tail) - 1 and line_frags:
                t, br = line_frags[-1]
                if not t:
                    t = " "
                elif t[-1] != " ":
                    t += " "
                line_frags[-1] = (t, br)
            new.extend(line_frags)
        if len(new) == 1 and not new[0][1]:
            return _cjk_simple(new[0][0], style, m)
        return _cjk_multi(new, style, m)

    return LaidOut(lines, rest)


def _group_units(units: list[_U]) -> list[tuple[str, bool]]:
    """makeCJKParaLine: consecutive text characters merge into one fragment, breaks stay apart."""
    out: list[tuple[str, bool]] = []
    buf: list[str] = []
    for c, _, is_break in units:
        if is_break:
            if buf:
                out.append(("".join(buf), False))
                buf = []
            out.append((c, True))
        else:
            buf.append(c)
    if buf:
        out.append(("".join(buf), False))
    return out


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

    def add(self, lo: LaidOut) -> list[PageLines]:
        done: list[PageLines] = []
        while True:
            page = self._page
            n = len(lo.lines)
            if n <= self._avail:
                start = len(page.lines)
                page.lines.extend(lo.lines)
                page.boxes.append((start, start + n))
                self._avail -= n
                return done
            s = self._avail
            if s > 1:
                start = len(page.lines)
                page.lines.extend(lo.lines[:s])
                page.boxes.append((start, start + s))
                lo = lo.rest(s)
            done.append(page)
            self._page = PageLines([], [])
            self._avail = self._per_page

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
                page = self._page
                start = len(page.lines)
                page.lines.extend(lines[:s])
                page.boxes.append((start, start + s))
                tail = lines[s:]
                if lines[s - 1].ends_break:
                    tail.insert(0, BLANK_BREAK_LINE)
                lines = tail
            done.append(self._page)
            self._page = PageLines([], [])
            self._avail = self._per_page
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


# ----------------------------------------------------------------------------------------------
# Incremental wrapping of a paragraph whose text is still arriving (default mode only)


def latin_laid_out(lines: list[Line]) -> LaidOut:
    """A default-mode paragraph from its lines (continuations start with a blank line after a
    <br/> boundary)."""
    return _latin(lines)


class OpenParagraph:
    """A 30-line group in the default (non-CJK) mode, wrapped while its text arrives.

    Text comes in pieces cut as :func:`renderer.text.segment_frags` requires, so every word
    before a cut is finished. reportlab's wrap is greedy, line by line: a line is final once
    the first word of the next line is known, and :class:`_MultiWrap` only emits such lines.
    Which of reportlab's two paths the paragraph takes is only known at its end: the
    single-fragment path if it is one fragment (one source line without entities or no-break
    spaces), else the multi-fragment one. Their float sums differ in the last bits and they cut
    words wider than a line differently, so while the single-fragment path is still possible
    both run, and only lines on which they agree are final. Work is proportional to the text
    added.
    """

    def __init__(self, style: PageStyle, m: Measurer) -> None:
        self._words = _WordSplitter(m)
        self._multi = _MultiWrap(style, m)
        self._simple: _SimpleWrap | None = _SimpleWrap(style, m)
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
        for f in frags:
            if f is BR:
                self._nfrags = 2
            elif f in SPECIAL_FRAGS:
                self._nfrags += 1
                self._last_text = False
            elif not self._last_text:
                self._nfrags += 1
                self._last_text = True
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
        if not got or simple is None:
            return got
        nfrags, last_text = self._nfrags, self._last_text
        for f in frags:
            if f is BR or f in SPECIAL_FRAGS:
                return got  # not one fragment: only the multi-fragment path counts
            if not last_text:
                nfrags += 1
                last_text = True
        if nfrags > 1:
            return got
        other = _try_last_word(simple.clone(), [w for f in frags if f for w in f.split()])
        k = 0
        for a, b in zip(got, other, strict=False):
            if a != b:
                break
            k += 1
        return got[:k]

    def finish(self, piece: str) -> list[Line]:
        """The last piece (its end is the group's end): all of the paragraph's lines."""
        self._feed(segment_frags(piece, not self._started, True))
        self._multi.push(self._words.finish())
        lines = self._multi.finish()
        if self._simple is not None and self._nfrags == 1:
            return self._simple.finish()
        return lines


def _try_last_word(wrap: _MultiWrap | _SimpleWrap, words: list[Any]) -> list[Line]:
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
