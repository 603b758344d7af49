"""Text preparation: from raw text to the paragraph fragments reportlab would see.

The reference XML-escapes the text, turns every run of 2+ spaces into as many ``&nbsp;``,
drops U+00AD and U+200B, splits on ``\\n`` and joins 30 lines at a time with ``<br/>`` into one
Paragraph. reportlab then (1) collapses every run of whitespace (except the no-break space) to
one space and strips the paragraph's ends, and (2) parses the markup into fragments: every
entity (``&amp;`` ``&lt;`` ``&gt;`` ``&nbsp;``) becomes a fragment of its own and every ``<br/>``
a line-break fragment. Fragment boundaries matter: reportlab sums word widths per fragment, so
float rounding (and therefore line breaks) depends on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BR",
    "LINES_PER_PARAGRAPH",
    "SPECIAL_FRAGS",
    "WHITESPACE",
    "Paragraph",
    "contains_cjk",
    "paragraph_frags",
    "prepare_lines",
    "segment_frags",
]

LINES_PER_PARAGRAPH = 30
#: The fragment list uses None for a <br/> fragment.
BR = None

_CJK_RE = re.compile("[\u4e00-\u9fff]")
_MULTI_SPACE = re.compile(" {2,}")
# reportlab's whitespace (paragraph._wsc): str.isspace() minus U+00A0 (U+200B is removed anyway).
_WS_CHARS = "".join(chr(c) for c in range(0x110000) if chr(c).isspace() and c != 0xA0)
_WS_RUN = re.compile("[" + re.escape(_WS_CHARS) + "]+")
_SPECIAL = re.compile("([&<>\xa0])")
#: Fragments of their own (entities and the no-break space); never merged with a neighbour.
SPECIAL_FRAGS = frozenset("&<>\xa0")

WHITESPACE = _WS_CHARS


def contains_cjk(text: str) -> bool:
    """The reference switches the whole text to CJK wrapping if any U+4E00..U+9FFF appears."""
    return _CJK_RE.search(text) is not None


def _nbsp(m: re.Match[str]) -> str:
    return "\xa0" * len(m.group())


def prepare_lines(text: str) -> list[str]:
    """Source lines after the reference's character-level preparation (before collapsing)."""
    text = text.replace("\xad", "").replace("\u200b", "")
    return [_MULTI_SPACE.sub(_nbsp, line) if "  " in line else line for line in text.split("\n")]


@dataclass(frozen=True)
class Paragraph:
    """One 30-line group, as reportlab fragments: str pieces and BR (None) markers."""

    frags: tuple[str | None, ...]


def paragraph_frags(lines: list[str]) -> Paragraph:
    """Collapse whitespace like cleanBlockQuotedText and split into parser fragments."""
    out: list[str | None] = []
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if i:
            out.append(BR)
        _line_frags(line, i == 0, i == last, out)
    return Paragraph(tuple(out))


def _line_frags(line: str, lstrip: bool, rstrip: bool, out: list[str | None]) -> None:
    """Append one prepared line's fragments."""
    if line:
        line = _WS_RUN.sub(" ", line)
        if lstrip:
            line = line.lstrip(" ")
        if rstrip:
            line = line.rstrip(" ")
        if line:
            if _SPECIAL.search(line) is None:
                out.append(line)
            else:
                out.extend(p for p in _SPECIAL.split(line) if p)


def segment_frags(segment: str, group_start: bool, group_end: bool) -> list[str | None]:
    """The fragments of one piece of a paragraph's (cleaned) source text.

    Cut a paragraph's text into pieces, each cut right after a whitespace character that
    reportlab treats as one (so not inside a run of 2+ spaces, which become no-break spaces)
    and before a non-whitespace one. Then runs of whitespace and entities never straddle a cut,
    and the pieces' fragments, concatenated, are the paragraph's fragments except that a text
    fragment crossing a cut comes in two parts; the first ends with a space, so reportlab makes
    the same words of both (see ``layout._WordSplitter``). ``group_start``: the piece
    starts the 30-line group (its first line is left-stripped); ``group_end``: it ends the
    group (its last line is right-stripped).
    """
    out: list[str | None] = []
    lines = segment.split("\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if i:
            out.append(BR)
        if "  " in line:
            line = _MULTI_SPACE.sub(_nbsp, line)
        _line_frags(line, group_start and i == 0, group_end and i == last, out)
    return out
