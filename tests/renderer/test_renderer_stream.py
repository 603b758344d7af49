"""PageStream: for any chunking, the pages equal render_pages of the whole text."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer import PageStream, render_pages
from tests.renderer.corpus import corpus, math_reasoning


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        x.size == y.size and x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True)
    )


def _stream(text: str, cuts: list[int], **kw: int) -> tuple[list, PageStream]:
    s = PageStream(**kw)  # type: ignore[arg-type]
    out = []
    prev = 0
    for c in sorted(set(cuts)):
        out += s.feed(text[prev:c])
        prev = c
    out += s.feed(text[prev:])
    out += s.flush()
    return out, s


_TEXTS = [t for t in corpus(3) if len(t) < 200_000]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, len(_TEXTS) - 1), st.lists(st.floats(0, 1), max_size=40))
def test_any_chunking_equals_render_pages(idx: int, fractions: list[float]) -> None:
    text = _TEXTS[idx]
    cuts = [int(f * len(text)) for f in fractions]
    out, stream = _stream(text, cuts)
    if stream.mode_diverged:  # documented: CJK first seen after the first page was handed out
        return
    assert _same(out, render_pages(text))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.text(alphabet="ab \n中.", max_size=3000), st.lists(st.integers(0, 3000), max_size=20))
def test_random_text_any_chunking(text: str, cuts: list[int]) -> None:
    out, stream = _stream(text, [c for c in cuts if c <= len(text)])
    if stream.mode_diverged:
        assert "中" in text
        return
    assert _same(out, render_pages(text))


def test_pages_arrive_before_flush_and_token_by_token() -> None:
    text = math_reasoning(random.Random(5), 600)
    whole = render_pages(text)
    assert len(whole) >= 4
    s = PageStream()
    early = []
    for i in range(0, len(text), 4):  # ~token-sized chunks
        early += s.feed(text[i : i + 4])
    assert len(early) >= len(whole) - 2
    assert _same(early + s.flush(), whole)


def test_max_pages_bounds_stream_and_render() -> None:
    text = math_reasoning(random.Random(6), 800)
    full = render_pages(text)
    assert len(full) > 3
    capped = render_pages(text, max_pages=3)
    assert _same(capped, full[:3])
    out, _ = _stream(text, list(range(0, len(text), 997)), max_pages=3)
    assert _same(out, full[:3])


# Mid-paragraph release: text with few or no newlines (one long paragraph), texts ending
# mid-word, words wider than a line, entities and no-break spaces that only show up late
# (they switch reportlab from its single-fragment path to the multi-fragment one).
_WORDS = ["the", "sum", "of", "x", "=", "(a+b)", "value.", "é", "√2", "ok!", "&", "<b>", "a\xa0b"]
_HUGE = ["W" * 90, "i" * 700, "m" * 1300, "ab" * 400]
_SUFFIXES = ["", " ", "  ", "\n", "&", " &", "  x", "\xa0", "\t", "\n\n", " end", "i" * 900]


def _paragraph(rng: random.Random, n_words: int, huge: float, odd: float) -> str:
    out = []
    for _ in range(n_words):
        r = rng.random()
        if r < huge:
            out.append(rng.choice(_HUGE))
        elif r < huge + odd:
            out.append(rng.choice(_WORDS[6:]))
        else:
            out.append(rng.choice(_WORDS[:6]))
        if rng.random() < odd:
            out.append(rng.choice(["", " ", "\t"]))  # runs of 2+ spaces, tabs
    return " ".join(out)


def _chunks(text: str, rng: random.Random) -> list[int]:
    size = rng.choice([1, 3, 4, 4, 9, 40, 700])
    cuts = []
    i = 0
    while i < len(text):
        i += rng.randint(1, size)
        cuts.append(min(i, len(text)))
    return cuts


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_long_paragraph_any_chunking(seed: int) -> None:
    rng = random.Random(seed)
    text = _paragraph(rng, rng.choice([0, 5, 300, 1500, 4000, 12000]), rng.choice([0, 0.002, 0.05]),
                      rng.choice([0, 0, 0.01, 0.2]))  # fmt: skip
    if rng.random() < 0.4:
        text = text[: rng.randint(0, len(text))]  # ends mid-word
    text += rng.choice(_SUFFIXES)
    out, stream = _stream(text, _chunks(text, rng))
    assert not stream.mode_diverged
    assert _same(out, render_pages(text)), repr(text[-60:])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_lines_and_paragraphs_any_chunking(seed: int) -> None:
    """Paragraphs of long lines, blank lines, 30-line group boundaries, page breaks."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rng.choice([29, 30, 31, 61, 150])):
        r = rng.random()
        if r < 0.15:
            lines.append(rng.choice(["", " ", "  "]))
        elif r < 0.9:
            lines.append(_paragraph(rng, rng.randint(1, 30), 0.01, 0.05))
        else:
            lines.append(_paragraph(rng, rng.randint(100, 600), 0.01, 0.05))
    text = "\n".join(lines)
    if rng.random() < 0.4:
        text = text[: rng.randint(0, len(text))]
    out, stream = _stream(text, _chunks(text, rng))
    assert not stream.mode_diverged
    assert _same(out, render_pages(text))


def test_long_paragraph_pages_arrive_while_feeding() -> None:
    """One paragraph of ~12 pages without a newline: flush is left with the last page."""
    text = _paragraph(random.Random(7), 30000, 0.0, 0.0)
    whole = render_pages(text)
    assert len(whole) >= 10
    s = PageStream()
    early = []
    for i in range(0, len(text), 4):
        got = s.feed(text[i : i + 4])
        early += got
    rest = s.flush()
    assert len(rest) == 1
    assert _same(early + rest, whole)


def test_cjk_before_the_first_page_restarts_in_cjk_mode() -> None:
    text = _paragraph(random.Random(8), 900, 0.0, 0.0) + " 中文 " + "x " * 3000
    s = PageStream()
    out = []
    for i in range(0, len(text), 4):
        out += s.feed(text[i : i + 4])
    out += s.flush()
    assert not s.mode_diverged
    assert _same(out, render_pages(text))


@pytest.mark.parametrize("unit", ["b", "x&y", "q  r"])
def test_growing_huge_word_releases_its_lines(unit: str) -> None:
    """A word several pages wide: its pieces are final before the word ends."""
    text = "a " * 100 + unit * (24000 // len(unit))
    whole = render_pages(text)
    assert len(whole) >= 3
    s = PageStream()
    early = []
    for i in range(0, len(text), 4):
        early += s.feed(text[i : i + 4])
    assert len(early) >= len(whole) - 2
    rest = s.flush()
    assert _same(early + rest, whole)
    s2 = PageStream()  # the word ends: the rest of the text goes on
    out = []
    tail = " the end & more " * 200
    for i in range(0, len(text + tail), 7):
        out += s2.feed((text + tail)[i : i + 7])
    out += s2.flush()
    assert _same(out, render_pages(text + tail))
