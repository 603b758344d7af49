"""The `vtc` objects of a response, from the loop's records (both APIs send the same ones)."""

from __future__ import annotations

import base64
from collections.abc import Iterable

from server.api.protocol.vtc import VtcInput, VtcPage, VtcRound, VtcSummary
from server.loop.events import (
    InputCompression,
    LoopResult,
    PageRendered,
    RenderedPage,
    RoundStats,
)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def page_data_urls(pages: Iterable[RenderedPage]) -> list[str]:
    return [data_url(p.png) for p in pages]


def _seconds(value: float) -> float:
    return round(value, 6)


def vtc_round(stats: RoundStats, pages: Iterable[RenderedPage] | None = None) -> VtcRound:
    """A `per_round` entry; with `pages`, the round's page images too (`return_pages`)."""
    return VtcRound(
        round=stats.round,
        prompt_tokens=stats.prompt_tokens,
        cached_tokens=stats.cached_tokens,
        generated_tokens=stats.generated_tokens,
        pages=stats.pages,
        vision_tokens=stats.vision_tokens,
        ttft_s=_seconds(stats.ttft_s),
        latency_s=_seconds(stats.latency_s),
        render_s=_seconds(stats.render_s),
        gap_s=None if stats.gap_s is None else _seconds(stats.gap_s),
        page_images=None if pages is None else page_data_urls(pages),
    )


def vtc_summary(result: LoopResult, *, return_pages: bool) -> VtcSummary:
    ratio = result.compression_ratio
    return VtcSummary(
        mode=result.mode,
        rounds=len(result.rounds),
        finished=result.finished,
        pages=sum(r.pages for r in result.rounds),
        reasoning_tokens=result.reasoning_tokens,
        vision_tokens=result.vision_tokens,
        compression_ratio=None if ratio is None else round(ratio, 6),
        final_answer=result.final_answer,
        ttft_s=None if result.ttft_s is None else _seconds(result.ttft_s),
        latency_s=_seconds(result.latency_s),
        per_round=[vtc_round(r) for r in result.rounds],
        page_images=page_data_urls(result.pages) if return_pages else None,
        input=None if result.input is None else vtc_input(result.input),
    )


def vtc_input(stats: InputCompression) -> VtcInput:
    ratio = stats.compression_ratio
    return VtcInput(
        pages=stats.pages,
        text_tokens=stats.text_tokens,
        vision_tokens=stats.vision_tokens,
        compression_ratio=None if ratio is None else round(ratio, 6),
        render_s=_seconds(stats.render_s),
    )


def vtc_page(event: PageRendered, png: bytes) -> VtcPage:
    width, height = event.page.image.size
    return VtcPage(
        round=event.round,
        index=event.index,
        kind=event.kind,
        vision_tokens=event.page.vision_tokens,
        width=width,
        height=height,
        url=data_url(png),
    )
