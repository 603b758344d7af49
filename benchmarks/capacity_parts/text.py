"""The reasoning the stand-in upstream streams: math prose, cut into token-sized pieces.

It reads like a reasoning model's `<think>` text (sentences, equations, paragraphs), never
contains `</think>` (the gateway must keep rendering pages round after round) and is the same
for every stream, so the client can map the characters it receives back to token positions.
Pieces follow a BPE's pre-tokenisation (a word with its leading space, a run of punctuation, up
to three digits), long words split in two: 3.5 characters per token on this math prose (English
prose is ~4.3 with Qwen's tokenizer; digits and symbols are short tokens). A page of the
renderer holds ~7.7K characters of it, ~2,200 tokens (measured with `PageStream`).
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from functools import lru_cache

_SENTENCES = (
    "Let me consider the sum of the first {n} odd numbers, which should be {n2}.",
    "If S(n) = n^2, then S(n+1) = n^2 + 2n + 1 = (n+1)^2, so the induction step holds.",
    "Wait, I should double-check the case n = {a}: the partial sum is {a2}, which matches.",
    "Now the quadratic x^2 - {s}x + {p} = 0 has roots {a} and {b}, since their sum is {s}.",
    "Their product is {p}, so by Vieta's formulas the factorisation is (x - {a})(x - {b}).",
    "Hmm, that contradicts the earlier bound; let me recompute the discriminant {d}.",
    "The discriminant is {s}^2 - 4 * {p} = {d}, and its square root is {r}.",
    "So the probability is {a}/{s}, because there are {a} favourable cases out of {s}.",
    "Alternatively, count the complement: {b} of the {s} outcomes fail, leaving {a}.",
    "Taking the expression modulo {m}, every term except the last vanishes.",
    "Therefore the remainder is {rm}, and the answer should be congruent to {rm} mod {m}.",
    "Let me verify with a smaller example before trusting the general formula.",
    "For a triangle with sides {a}, {b} and {s}, the triangle inequality fails, so no.",
    "The area of the rectangle is {a} * {b} = {p}, and its perimeter is 2({a} + {b}).",
    "Differentiating f(x) = x^3 - {s}x gives f'(x) = 3x^2 - {s}, zero at x^2 = {s}/3.",
    "Since f''(x) = 6x is positive there, that critical point is a local minimum.",
    "I think the cleanest approach is to set up a recurrence and solve it directly.",
    "Let a_k denote the number of valid strings of length k; then a_k = a_(k-1) + a_(k-2).",
    "With a_1 = {a} and a_2 = {b}, the sequence continues {s}, {p} and so on.",
    "But wait, the problem asks for the smallest such value, not the number of them.",
    "So I need to minimise over all admissible choices, which happens at the boundary.",
    "Checking the boundary case gives {p}, which is smaller than the interior value {d}.",
)


def _paragraph(rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(4, 9)):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        s, p, m = a + b, a * b, rng.randint(3, 13)
        d = s * s - 4 * p
        values = {"a": a, "b": b, "s": s, "p": p, "n": s, "n2": s * s, "a2": a * a}
        values |= {"d": d, "r": abs(a - b), "m": m, "rm": p % m}
        sentences.append(rng.choice(_SENTENCES).format(**values))
    return " ".join(sentences)


_PIECE = re.compile(r" ?[A-Za-z]+| ?[0-9]{1,3}|\n+| ?[^\sA-Za-z0-9]+| +")


def _pieces(text: str) -> list[str]:
    """BPE-like pieces: a word with its leading space (split in two when long), up to three
    digits, a punctuation run, newlines."""
    out: list[str] = []
    for piece in _PIECE.findall(text):
        if len(piece) > 8:
            out += [piece[: len(piece) // 2], piece[len(piece) // 2 :]]
        else:
            out.append(piece)
    return out


@lru_cache(maxsize=4)
def reasoning_tokens(count: int, seed: int = 0) -> tuple[str, ...]:
    """The first `count` token pieces of the (endless, seeded) reasoning text."""
    rng = random.Random(seed)
    tokens: list[str] = []
    while len(tokens) < count:
        tokens += _pieces(_paragraph(rng) + "\n\n")
    return tuple(tokens[:count])


class TokenIndex:
    """Maps a count of received characters to the number of whole tokens it holds."""

    def __init__(self, tokens: tuple[str, ...]) -> None:
        self.ends = list(itertools.accumulate(len(t) for t in tokens))

    def tokens_in(self, chars: int) -> int:
        return bisect.bisect_right(self.ends, chars)


__all__ = ["TokenIndex", "reasoning_tokens"]
