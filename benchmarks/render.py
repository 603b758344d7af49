"""Benchmark: renderer vs the reference pipeline (reportlab + poppler), same unseen texts.

Every run draws a fresh variant of each corpus text (digits redrawn, lines shuffled) so no cache
can replay a text it has seen; both pipelines get the same variant, alternating, in one process.
Caches may be warmed on *other* text first (fair: the server renders many texts). Prints
per-page times of both, the ratio, and checks the measured pages are pixel-identical.

Run: ``.venv/bin/python benchmarks/render.py [--rounds N] [--seed S]`` (also ``make bench``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer import render_pages
from tests.oracle import render_reference
from tests.renderer.corpus import math_reasoning, prose, variant


def _texts(rng: random.Random) -> list[tuple[str, str]]:
    return [
        ("math 1p", math_reasoning(rng, 60)),
        ("math 4p", math_reasoning(rng, 320)),
        ("math 12p", math_reasoning(rng, 1000)),
        ("prose 3p", prose(rng, 12)),
        ("prose 10p", prose(rng, 40)),
    ]


def _identical(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x.size != y.size:
            return False
        gx = np.asarray(x.convert("L"), dtype=np.int16)
        gy = np.asarray(y.convert("L"), dtype=np.int16)
        if np.abs(gx - gy).max() != 0:
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else time.time_ns() % 2**32
    rng = random.Random(seed)
    # Warm-up on different text: JIT compile, font tables, the common glyphs.
    warm = math_reasoning(random.Random(-1), 200) + prose(random.Random(-2), 5)
    render_pages(warm)
    render_reference(warm[:2000])
    base = _texts(random.Random(12345))
    print(f"seed {seed}, numba {numba.__version__}, rounds {args.rounds}")
    print(f"{'text':<10} {'pages':>5} {'chars/p':>7} {'glyphs/p':>8} "
          f"{'ours ms/p':>9} {'ref ms/p':>9} {'ratio':>6} identical")  # fmt: skip
    tot_ours = tot_ref = 0.0
    tot_pages = 0
    all_ok = True
    for name, text in base:
        ours_t = ref_t = 0.0
        pages = 0
        ok = True
        glyphs = 0
        for _ in range(args.rounds):
            t = variant(text, rng)
            t0 = time.perf_counter()
            ours = render_pages(t)
            t1 = time.perf_counter()
            ref = render_reference(t)
            t2 = time.perf_counter()
            ours_t += t1 - t0
            ref_t += t2 - t1
            pages += len(ref)
            glyphs += sum(1 for c in t if not c.isspace())
            ok = ok and _identical(ours, ref)
        all_ok = all_ok and ok
        tot_ours += ours_t
        tot_ref += ref_t
        tot_pages += pages
        print(
            f"{name:<10} {pages // args.rounds:>5} {len(text) * args.rounds // pages:>7} "
            f"{glyphs // pages:>8} {1000 * ours_t / pages:>9.2f} {1000 * ref_t / pages:>9.2f} "
            f"{ref_t / ours_t:>5.1f}x {'yes' if ok else 'NO'}"
        )
    print(
        f"{'all':<10} {tot_pages:>5} {'':>7} {'':>8} {1000 * tot_ours / tot_pages:>9.2f} "
        f"{1000 * tot_ref / tot_pages:>9.2f} {tot_ref / tot_ours:>5.1f}x "
        f"{'yes' if all_ok else 'NO'}"
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
