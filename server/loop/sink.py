"""The incremental renderer as the loop sees it: something fed a round's text as it streams,
handing out pages as soon as they can no longer change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PIL import Image

from renderer import PageStream


class PageSink(Protocol):
    """The incremental renderer, as the loop uses it (`renderer.PageStream`)."""

    def feed(self, chunk: str) -> list[Image.Image]: ...

    def flush(self) -> list[Image.Image]: ...


PageSinkFactory = Callable[[int], PageSink]  # max pages -> a fresh sink


def default_page_sink(max_pages: int) -> PageSink:
    return PageStream(max_pages=max_pages)


def warm_up_renderer() -> None:
    """Render one page so fonts, glyph atlas and the native kernels are loaded (the kernels
    compile on first use: ~0.4 s, which would otherwise land in the first request's gap)."""
    sink = default_page_sink(1)
    sink.feed("warm up: x^2 + y^2 = z^2, \\frac{a}{b} </think>")
    sink.flush()
