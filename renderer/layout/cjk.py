"""CJK wrapping: reportlab's ``Paragraph.breakLinesCJK``, its "dumbest possible" wrap.

Used for the whole text when it contains any U+4E00..U+9FFF character. Lines break wherever
they overflow, character by character, with two refinements: inside Latin text the break
looks back (to half the line) for a space or wide character, and a character that cannot
start a line hangs at the end of the one before. A single-fragment paragraph takes
``textsplit.dumbSplit`` (lines stripped), any other ``cjkFragSplit`` (lines built by
``makeCJKParaLine``). Both share one loop here, :func:`_cjk_split`.

Unlike the Latin paths, a page break re-wraps what follows it: ``Paragraph.split`` rebuilds
the rest from the remaining lines' fragments with a space appended to each line but the last
(``_split_blParaHard``), so a page's lines depend on the whole paragraph.
"""

from __future__ import annotations

import unicodedata

from renderer.layout.lines import FUZZ, LaidOut, Line, Measurer, word_space
from renderer.style import PageStyle
from renderer.text import BR

__all__ = ["cjk_laid_out"]

#: reportlab's ALL_CANNOT_START: characters that hang at the end of a line instead.
_CANNOT_START = (
    "!',.:;?!\")]\u3001\u3002\u300d\u300f\u3011\u3015\uff3d\u3011\uff09"
    "\u3005\u2015\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
    "\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30fc\u30f5\u30f6"
    "\u309b\u309c\u30fb\u30fd\u30fe\u309d\u309e\u2015\u2010\xb0\u2032\u2033\u2103\uffe0\uff05\u2030"
)

_U = tuple[str, float, bool]  # char ('' for an empty fragment), width, is line break
_Frag = tuple[str, bool]  # text, is line break
_Span = tuple[int, int, float, bool, bool]  # a line: units[start:stop], extraSpace, lineBreak, and
# whether the loop broke it (else it is the rest after the loop)


def cjk_laid_out(frags: tuple[str | None, ...], style: PageStyle, m: Measurer) -> LaidOut:
    """breakLinesCJK of a paragraph's fragments."""
    if len(frags) == 1 and frags[0] is not BR:
        return _cjk_simple(frags[0], style, m)
    return _cjk_multi([(f if f is not BR else "", f is BR) for f in frags], style, m)


def _cjk_units(frags: list[_Frag], m: Measurer) -> list[_U]:
    """cjkFragSplit's glyph list: one unit per character, one for an empty fragment."""
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


def _cjk_split(units: list[_U], max_width: float) -> list[_Span]:
    """Returns (start, stop, extraSpace, lineBreak, broken_in_loop) per line."""
    out: list[_Span] = []
    i = 0
    width_used: float = 0
    start = 0
    nu = len(units)
    while i < nu:
        u, w, line_break = units[i]
        i += 1
        width_used += w
        if (width_used > max_width + FUZZ and width_used > 0) or line_break:
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
    """A CJK line is drawn as one word (``wordCount=1``, or ``words=[line]`` for dumbSplit), so
    ``_leftDrawParaLine[X]`` spreads an overrun (a hanging character) over its no-break
    spaces only."""
    return Line(text, word_space(extra, text.count("\xa0")), ends_break)


def _cjk_simple(text: str, style: PageStyle, m: Measurer) -> LaidOut:
    """dumbSplit of one fragment; a continuation is the remaining lines' text joined."""
    units = [(c, m.char(c), False) for c in text]
    lines = []
    for start, stop, extra, _, in_loop in _cjk_split(units, style.text_width):
        t = text[start:stop]
        if in_loop:
            t = t.strip()
        lines.append(_cjk_line(t, extra, False))

    def rest(s: int) -> LaidOut:
        joined = "".join(ln.text for ln in lines[s:])
        return _cjk_simple(joined, style, m)

    return LaidOut(lines, rest)


def _cjk_multi(frags: list[_Frag], style: PageStyle, m: Measurer) -> LaidOut:
    """cjkFragSplit; a continuation is rebuilt by _split_blParaHard and wrapped again."""
    units = _cjk_units(frags, m)
    spans = _cjk_split(units, style.text_width)
    lines = []
    for a, b, extra, lb, _ in spans:
        lines.append(_cjk_line("".join(u[0] for u in units[a:b]), extra, lb))

    def rest(s: int) -> LaidOut:
        new = _split_bl_para_hard(units, spans[s:])
        if len(new) == 1 and not new[0][1]:
            return _cjk_simple(new[0][0], style, m)
        return _cjk_multi(new, style, m)

    return LaidOut(lines, rest)


def _split_bl_para_hard(units: list[_U], tail: list[_Span]) -> list[_Frag]:
    """_split_blParaHard: each line's fragments, a space appended to the last fragment of
    every line but the last (a single text fragment then takes the dumbSplit path)."""
    new: list[_Frag] = []
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
    return new


def _group_units(units: list[_U]) -> list[_Frag]:
    """makeCJKParaLine: consecutive text characters merge into one fragment, breaks stay apart."""
    out: list[_Frag] = []
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
