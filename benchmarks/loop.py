"""Inter-round gap of the VTC loop on the tiny model: incremental rendering vs rendering after
the round, and incremental rendering consumed by the chat stream with `vtc.stream_pages` (every
page PNG-encoded and sent while the loop runs: the encoding must stay off the gap).

The gap is the time from the last token of round k to round k+1 being submitted to the engine
(`RoundStats.gap_s`). With incremental rendering, pages are drawn while the round streams and
only the last partial page is left at the end; rendering after the round draws every page in
the gap. Both variants run in one process, alternating, on the same engine, for several round
lengths (so several page counts).

    .venv/bin/python benchmarks/loop.py [--round-tokens 256,1024,2048] [--requests 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path

from PIL import Image

from renderer import PageStream, render_pages
from server.engines.base import ChatMessage, Engine, TextPart
from server.loop.events import LoopEvent, LoopResult
from server.loop.request import LoopOptions, LoopRequest, Sampling
from server.loop.runner import PageSink, run_loop

QUESTION = "Find all real x such that x^2 - 5x + 6 = 0. Show your reasoning."


class AfterRoundSink:
    """Renders nothing while the round streams, everything when it ends."""

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.chunks: list[str] = []

    def feed(self, chunk: str) -> list[Image.Image]:
        self.chunks.append(chunk)
        return []

    def flush(self) -> list[Image.Image]:
        return render_pages("".join(self.chunks), max_pages=self.max_pages)


def incremental(max_pages: int) -> PageSink:
    return PageStream(max_pages=max_pages)


def after_round(max_pages: int) -> PageSink:
    return AfterRoundSink(max_pages)


VARIANTS = {"incremental": incremental, "after-round": after_round, "stream-pages": incremental}


async def run_once(
    engine: Engine, variant: str, round_tokens: int, rounds: int, seed: int
) -> LoopResult:
    request = LoopRequest(
        request_id=f"bench-{variant}-{round_tokens}-{seed}",
        messages=(ChatMessage("user", (TextPart(QUESTION),)),),
        sampling=Sampling(seed=seed),
        options=LoopOptions(max_rounds=rounds, round_max_tokens=round_tokens),
    )
    events = run_loop(request, engine, page_sink=VARIANTS[variant])
    if variant == "stream-pages":
        return await _through_the_chat_stream(events)
    result = None
    async for event in events:
        result = event
    assert isinstance(result, LoopResult)
    return result


async def _through_the_chat_stream(events: AsyncGenerator[LoopEvent, None]) -> LoopResult:
    """Consume the loop as `/v1/chat/completions` streams it with `stream_pages`."""
    from server.api.chat.stream import stream_chat
    from server.api.chat.wire import ChatWire
    from server.api.feed import source

    results: list[LoopResult] = []

    async def tap() -> AsyncGenerator[LoopEvent, None]:
        async with aclosing(events):
            async for event in events:
                if isinstance(event, LoopResult):
                    results.append(event)
                yield event

    tapped = tap()
    items = source(await anext(tapped), tapped, stream_pages=True)
    wire = ChatWire("bench", "bench", "both", str)
    pages = 0
    async for data in stream_chat(items, wire):
        pages += b'"page":{' in data
    assert results and pages == sum(r.pages for r in results[0].rounds)
    return results[0]


async def bench(args: argparse.Namespace) -> int:
    from server.engines.factory import create_engine
    from server.settings import Settings

    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="vtcr1-bench-"))
    settings = Settings(cache_dir=cache, max_model_len=args.max_model_len, enforce_eager=True)
    engine = await create_engine(settings)
    try:
        await run_once(engine, "incremental", 64, 2, 0)  # warm-up: engine, glyph caches
        print(
            f"{'round tokens':>12} {'variant':>12} {'pages/round':>11} {'gaps':>5} "
            f"{'median gap ms':>13} {'p90 gap ms':>10}"
        )
        summary: list[tuple[int, float, float]] = []
        streamed: list[float] = []
        for round_tokens in args.round_tokens:
            gaps: dict[str, list[float]] = {v: [] for v in VARIANTS}
            pages: dict[str, list[int]] = {v: [] for v in VARIANTS}
            for i in range(args.requests):
                for variant in VARIANTS:  # alternate, same seed for both
                    result = await run_once(engine, variant, round_tokens, args.rounds, i)
                    gaps[variant] += [r.gap_s for r in result.rounds if r.gap_s is not None]
                    pages[variant] += [r.pages for r in result.rounds if r.pages]
            medians = {}
            for variant in VARIANTS:
                g = sorted(gaps[variant])
                if not g:
                    continue
                medians[variant] = statistics.median(g)
                p90 = g[min(len(g) - 1, int(0.9 * len(g)))]
                per_round = statistics.mean(pages[variant]) if pages[variant] else 0.0
                print(
                    f"{round_tokens:>12} {variant:>12} {per_round:>11.1f} {len(g):>5} "
                    f"{medians[variant] * 1e3:>13.2f} {p90 * 1e3:>10.2f}"
                )
            if len(medians) == len(VARIANTS):
                summary.append((round_tokens, medians["incremental"], medians["after-round"]))
                streamed.append(medians["stream-pages"])
        print()
        for round_tokens, inc, after in summary:
            print(
                f"round {round_tokens} tokens: median gap incremental {inc * 1e3:.2f} ms, "
                f"after-round {after * 1e3:.2f} ms, ratio {after / inc:.1f}x"
            )
        worst = max(inc for _, inc, _ in summary) if summary else float("nan")
        print(f"worst median incremental gap: {worst * 1e3:.2f} ms (goal <= 5 ms)")
        worst_streamed = max(streamed) if streamed else float("nan")
        print(f"worst median gap with stream_pages: {worst_streamed * 1e3:.2f} ms (goal <= 5 ms)")
    finally:
        await engine.aclose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--round-tokens", type=lambda s: [int(x) for x in s.split(",")], default=[256, 1024, 2048]
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--cache-dir", default=None, help="where the tiny model is built")
    return asyncio.run(bench(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
