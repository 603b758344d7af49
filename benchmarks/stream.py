"""Benchmark: PageStream fed token-sized chunks; what feeding costs and what flush() costs.

The server feeds the stream while the model generates and calls ``flush()`` at the end of a
round; whatever ``flush`` still has to lay out and rasterise is the gap before the next round.
For each text shape and length this feeds fresh texts in ~4-character chunks and prints:
feed time per page (spread over the round), how many pages ``feed`` released, and the
``flush`` time (median over rounds, and the worst). Every run checks that the pages equal
``render_pages`` of the whole text.

Shapes: ``math`` (short lines of reasoning with LaTeX, 30-line paragraphs) and ``para`` (one
long paragraph without a newline, like the output of the tiny random test model).

Run: ``.venv/bin/python benchmarks/stream.py [--rounds N] [--chunk C] [--seed S]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer import PageStream, render_pages
from renderer.pages import layout_pages
from tests.renderer.corpus import math_reasoning, prose


def _math(rng: random.Random) -> str:
    return math_reasoning(rng, 1600)


def _para(rng: random.Random) -> str:
    return prose(rng, 160).replace("\n", " ")


SHAPES: dict[str, Callable[[random.Random], str]] = {"math": _math, "para": _para}


def _cut_to_pages(text: str, pages: int) -> str:
    """The longest prefix of text that lays out on at most `pages` pages (binary search)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(layout_pages(text[:mid])) <= pages:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def _run(text: str, chunk: int) -> tuple[float, float, int, int, bool]:
    s = PageStream()
    early = []
    t0 = time.perf_counter()
    for i in range(0, len(text), chunk):
        early += s.feed(text[i : i + chunk])
    t1 = time.perf_counter()
    rest = s.flush()
    t2 = time.perf_counter()
    out = early + rest
    ref = render_pages(text)
    same = len(out) == len(ref) and all(
        a.size == b.size and a.tobytes() == b.tobytes() for a, b in zip(out, ref, strict=True)
    )
    return t1 - t0, t2 - t1, len(early), len(rest), same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    rng = random.Random(seed)
    warm = math_reasoning(random.Random(-1), 200) + "\n" + _para(random.Random(-2))[:20_000]
    _run(warm, 64)  # JIT, font tables, common glyphs
    print(f"seed {seed}, numba {numba.__version__}, rounds {args.rounds}, "
          f"chunk {args.chunk} chars")  # fmt: skip
    print(f"{'text':<9} {'pages':>5} {'chars':>6} {'feed ms/p':>9} {'by feed':>7} "
          f"{'flush ms':>8} {'max ms':>7} identical")  # fmt: skip
    all_ok = True
    for shape, make in SHAPES.items():
        for target in (1, 4, 12):
            feed_t = 0.0
            flushes: list[float] = []
            pages = early = chars = 0
            ok = True
            for _ in range(args.rounds):
                text = _cut_to_pages(make(rng), target)
                f, fl, n_early, n_rest, same = _run(text, args.chunk)
                feed_t += f
                flushes.append(fl)
                pages += n_early + n_rest
                early += n_early
                chars += len(text)
                ok = ok and same
            all_ok = all_ok and ok
            print(
                f"{shape + ' ' + str(target) + 'p':<9} {pages / args.rounds:>5.1f} "
                f"{chars // args.rounds:>6} {1000 * feed_t / pages:>9.2f} "
                f"{early / args.rounds:>7.1f} {1000 * statistics.median(flushes):>8.2f} "
                f"{1000 * max(flushes):>7.2f} {'yes' if ok else 'NO'}"
            )
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
