"""The input-compression benchmark's documents: seeded prose from the tiny model's corpus and
MATH-500 problems with their solutions (read from `../shared` when it is there), cut to an exact
token count with the model's tokenizer. No downloads."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.tiny_model.corpus import build_corpus

ROOT = Path(__file__).resolve().parents[1]
PROSE_SEED = 7_000_000  # far from the tokenizer corpus' seed (20250601)
MATH_STRIDE = 53  # problems between the starts of consecutive documents


def math500_path() -> Path | None:
    """`shared/data/benchmarks/math500.jsonl` in the nearest folder above this checkout."""
    for folder in ROOT.parents:
        candidate = folder / "shared" / "data" / "benchmarks" / "math500.jsonl"
        if candidate.is_file():
            return candidate
    return None


def load_math(path: Path | None) -> list[str]:
    if path is None:
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [f"Problem. {r['problem']}\n\nSolution. {r['solution']}" for r in rows]


def prose(seed: int) -> Iterator[str]:
    """Corpus paragraphs without the loop's `<think>`/`<answer>` tags (not document text)."""
    for s in itertools.count(seed):
        yield from (p for p in build_corpus(seed=s, paragraphs=200) if "<think>" not in p)


@dataclass(frozen=True)
class Documents:
    """Builds the benchmark's documents with the model's tokenizer (read locally)."""

    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]
    math: Sequence[str] = ()

    def build(self, tokens: int, variant: int) -> str:
        """`tokens` tokens of prose and (if any) maths alternating, about half the tokens each.
        Each `variant` is a different text: no two share a prefix (or a page)."""
        paragraphs = prose(PROSE_SEED + 1000 * variant)
        start = MATH_STRIDE * variant
        maths = (self.math[(start + i) % len(self.math)] for i in itertools.count())
        parts: list[str] = []
        counts = {"prose": 0, "math": 0}
        while sum(counts.values()) < tokens + 64:
            kind = "math" if self.math and counts["math"] <= counts["prose"] else "prose"
            part = next(maths if kind == "math" else paragraphs)
            counts[kind] += len(self.encode(part)) + 1
            parts.append(part)
        return self.decode(self.encode("\n\n".join(parts))[:tokens])

    def count(self, text: str) -> int:
        return len(self.encode(text))
