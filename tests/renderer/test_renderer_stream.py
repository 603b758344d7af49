"""PageStream: for any chunking, the pages equal render_pages of the whole text."""

from __future__ import annotations

import random

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
    if stream.mode_diverged:  # documented: CJK first seen after the first paragraph
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
