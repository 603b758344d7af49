"""A small deterministic training corpus for the tiny model's tokenizer.

The tokenizer only needs to be plausible (English words, digits, LaTeX-ish maths, the tags the
VTC loop parses) so that token counts behave like a real BPE: text costs several characters per
token, not one. Everything comes from a seeded `random.Random`, so the corpus, the trained merges
and therefore the whole tiny model are the same on every machine.
"""

from __future__ import annotations

import random

_SUBJECTS = (
    "the number",
    "the sum",
    "the product",
    "each term",
    "the triangle",
    "the circle",
    "the answer",
    "the remainder",
    "this equation",
    "the function",
    "the sequence",
    "the probability",
    "the area",
    "the integer",
    "the polynomial",
)
_VERBS = (
    "is",
    "equals",
    "becomes",
    "gives",
    "must be",
    "cannot be",
    "divides",
    "satisfies",
    "approaches",
    "is at most",
    "is at least",
)
_CONNECTIVES = (
    "So",
    "Therefore",
    "Wait,",
    "Hmm,",
    "Let me check:",
    "Next,",
    "Then",
    "Hence",
    "Alternatively,",
    "Now",
    "First,",
    "Finally,",
)
_WORDS = (
    "we",
    "compute",
    "consider",
    "find",
    "value",
    "because",
    "since",
    "if",
    "and",
    "or",
    "not",
    "of",
    "to",
    "in",
    "for",
    "with",
    "that",
    "which",
    "case",
    "step",
    "again",
    "verify",
    "substitute",
    "simplify",
    "factor",
    "solve",
    "prime",
    "even",
    "odd",
    "positive",
    "negative",
    "real",
    "root",
    "roots",
    "angle",
    "length",
    "side",
    "radius",
    "total",
    "ways",
    "choose",
    "count",
    "previous",
    "reasoning",
    "images",
    "answer",
    "question",
    "final",
)
_LATEX = (
    r"\frac{a}{b}",
    r"\sqrt{2}",
    r"x^2",
    r"\pi",
    r"\cdot",
    r"\leq",
    r"\geq",
    r"\binom{n}{k}",
    r"\sum_{i=1}^{n}",
    r"\boxed{",
    r"\left(",
    r"\right)",
    r"\times",
    r"\neq",
)


_ONSETS = (
    "",
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "w",
    "st",
    "tr",
    "pr",
    "ch",
    "th",
    "sh",
)
_VOWELS = ("a", "e", "i", "o", "u", "ea", "ou", "io")
_CODAS = ("", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "ct", "st", "x")


def _pseudo_word(rng: random.Random) -> str:
    """English-looking filler so the BPE learns a few thousand merges from a small corpus."""
    return "".join(
        rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
        for _ in range(rng.randint(1, 3))
    )


def _sentence(rng: random.Random) -> str:
    parts = [rng.choice(_CONNECTIVES), rng.choice(_SUBJECTS), rng.choice(_VERBS)]
    roll = rng.random()
    if roll < 0.4:
        parts.append(str(rng.randint(0, 99999)))
    elif roll < 0.7:
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        parts.append(f"${a} {rng.choice('+-*/')} {b} = {rng.randint(0, 9999)}$")
    else:
        parts.append(f"${rng.choice(_LATEX)}$")
    parts.extend(
        rng.choice(_WORDS) if rng.random() < 0.6 else _pseudo_word(rng)
        for _ in range(rng.randint(2, 9))
    )
    return " ".join(parts) + rng.choice((".", ".", "?", "!", ":", ","))


def build_corpus(*, seed: int = 20250601, paragraphs: int = 1500) -> list[str]:
    """Paragraphs of reasoning-like text with the loop's tags, the same for the same seed."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(paragraphs):
        body = " ".join(_sentence(rng) for _ in range(rng.randint(2, 8)))
        if i % 5 == 0:
            body = f"<think>\n{body}\n</think>\n<answer>{rng.randint(0, 999)}</answer>"
        elif i % 7 == 0:
            body = body.upper()
        out.append(body)
    return out
