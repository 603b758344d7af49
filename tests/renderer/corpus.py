"""Deterministic test corpus: the kinds of text the renderer must match the reference on."""

from __future__ import annotations

import random

__all__ = ["corpus", "math_reasoning", "prose", "variant"]

_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "we",
    "for",
    "it",
    "as",
    "with",
    "be",
    "this",
    "on",
    "are",
    "so",
    "by",
    "an",
    "can",
    "which",
    "from",
    "number",
    "value",
    "equation",
    "solve",
    "function",
    "sum",
    "therefore",
    "since",
    "let",
    "then",
    "find",
    "answer",
    "check",
    "triangle",
    "angle",
    "prime",
    "integer",
    "square",
    "root",
    "probability",
    "expected",
    "case",
    "both",
    "sides",
    "divide",
    "multiply",
    "factor",
    "term",
    "sequence",
    "limit",
    "derivative",
    "integral",
    "vector",
    "matrix",
    "determinant",
]

_MATH = [
    r"$x^2 + y^2 = z^2$",
    r"\frac{a+b}{2} \geq \sqrt{ab}",
    r"\sum_{k=1}^{n} k = \frac{n(n+1)}{2}",
    r"\boxed{42}",
    r"f(x) = 3x^3 - 2x + 7",
    r"\int_0^1 x^2\,dx = \frac{1}{3}",
    r"a_{n+1} = 2a_n + 1",
    "≤ ≥ ≠ ∞ ∑ ∫ √ π θ α β γ → ⇒ ∈ ∀ ∃ ×",
    r"P(A \cap B) = P(A)P(B|A)",
    "(3 + 4) * 5 = 35 & 7 < 8 > 6",
]


def math_reasoning(rng: random.Random, n_lines: int) -> str:
    """Short lines of reasoning with LaTeX, blank lines and the odd long line."""
    out = []
    for _ in range(n_lines):
        r = rng.random()
        if r < 0.12:
            out.append("")
        elif r < 0.45:
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 14)))
            out.append(f"{words.capitalize()} {rng.choice(_MATH)}.")
        elif r < 0.6:
            out.append(rng.choice(_MATH) + f" = {rng.randint(0, 10 ** rng.randint(1, 9))}")
        elif r < 0.68:
            out.append("Step " + str(rng.randint(1, 20)) + ":  " + rng.choice(_MATH))
        else:
            n = rng.randint(5, 60)
            out.append(" ".join(rng.choice(_WORDS + _MATH) for _ in range(n)))
    return "\n".join(out)


def prose(rng: random.Random, n_paragraphs: int) -> str:
    """Dense paragraphs (long lines that wrap many times)."""
    paras = []
    for _ in range(n_paragraphs):
        n = rng.randint(40, 400)
        paras.append(" ".join(rng.choice(_WORDS) for _ in range(n)) + ".")
    return "\n".join(paras)


def edge_cases() -> list[str]:
    long_token = "".join(chr(ord("a") + (i * 7) % 26) for i in range(1500))
    return [
        "",
        "x",
        "\n\n\n",
        "   leading spaces\n trailing spaces   \n  both  \n",
        "tabs\tin\t\tthe\tmiddle\n\tindented",
        "runs  of   spaces    and     more      " * 20,
        "word " * 2000,
        long_token,
        "before " + long_token + " after " + long_token[:700] + " end",
        "a&b <tag> &amp; &lt; x>y " * 50,
        "控制 chars \x00\x01\x07\x1b here",
        "emoji 😀🎉 and symbols ∮ ⊕ 𝔸 and RTL שלום עולם مرحبا",
        "中文推理：设 x = 3，则 x² = 9。因此答案是 9。\n" * 30,
        "Mixed English and 中文 with a verylongEnglishWordThatMightBreak " * 40,
        "\n".join(["line"] * 31),
        "\n".join(["line"] * 61) + "\n",
        "\n".join(("x " * 40) for _ in range(200)),
        "CR\r\nLF\rmixed\x0bvt\x0cff\x85nel\u2028ls",
        "soft\xadhyphen zero\u200bwidth no\xa0break",
        ("end of sentence. " * 30 + "\n") * 10,
        "!!!!!!!!!!!!" * 100,
    ]


def corpus(seed: int = 0) -> list[str]:
    """Edge cases plus math reasoning and prose texts from 1 to ~40 pages."""
    rng = random.Random(seed)
    texts = edge_cases()
    for n in (20, 90, 200, 500, 1400):
        texts.append(math_reasoning(rng, n))
    for n in (3, 12, 40):
        texts.append(prose(rng, n))
    return texts


def variant(text: str, rng: random.Random) -> str:
    """A fresh text of the same shape: digits redrawn, lines shuffled (for the benchmark)."""
    digits = "".join(str(rng.randint(0, 9)) if c.isdigit() else c for c in text)
    lines = digits.split("\n")
    rng.shuffle(lines)
    return "\n".join(lines)
