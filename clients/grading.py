"""Answer extraction and grading, as the VTC-R1 evaluation does it.

The graded text is the content of `<answer>...</answer>` after the final `</think>` (what the
model was trained to emit); when a model forgets the tags, the last `\\boxed{}` is the usual
convention, so it is the fallback. Math sets are graded by equivalence with `math-verify`
(so `\\frac{1}{2}`, `0.5` and `1/2` agree), GPQA by its choice letter, GSM8K by the number after
`####` in the gold solution.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

MATH_DATASETS = frozenset({"math500", "aime25", "amc23"})

_ANSWER_RE = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL | re.IGNORECASE)
_THINK_END = "</think>"


def _after_final_think(text: str) -> str:
    index = text.rfind(_THINK_END)
    return text if index < 0 else text[index + len(_THINK_END) :]


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), braces balanced."""
    starts = [m.end() for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return text[start:i].strip()
    return None


def extract_answer(text: str) -> str | None:
    """The answer the model committed to, or None.

    Looks only after the final `</think>` (the server's `content` already is that part; text
    from other servers may still carry the reasoning): the last `<answer>` block there, else the
    last `\\boxed{}` there.
    """
    tail = _after_final_think(text)
    blocks = [m.group(1).strip() for m in _ANSWER_RE.finditer(tail)]
    blocks = [b for b in blocks if b]
    if blocks:
        return blocks[-1]
    return last_boxed(tail)


# --- math ---------------------------------------------------------------------------------


def _strip_math(text: str) -> str:
    """Crude normal form for a cheap exact match before the expensive symbolic check."""
    inner = last_boxed(text)
    if inner is not None:
        text = inner
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\[,;!: ]|\\quad|\\qquad", "", text)
    text = text.replace("\\left", "").replace("\\right", "").replace("\\dfrac", "\\frac")
    text = text.replace("\\tfrac", "\\frac")
    text = re.sub(r"\s+", "", text)
    return text.rstrip(".")


def _mv_parse(text: str, timeout: int | None) -> list[Any]:
    """math-verify's parse of an answer string. Bare answers (`(3, \\pi/2)`, and the gold
    answers, which are LaTeX without delimiters) parse wrongly or not at all unless wrapped in
    `$...$`, so that comes first; text that has its own delimiters is parsed as it is."""
    from math_verify import parse

    if re.search(r"(?<!\\)\$", text) or "\\boxed" in text:
        candidates = [text]
    else:
        candidates = [f"${text}$", f"\\boxed{{{text}}}", text]
    for candidate in candidates:
        try:
            parsed = parse(candidate, parsing_timeout=timeout)
        except Exception:
            parsed = []
        if parsed:
            return list(parsed)
    return []


def math_equal(pred: str, gold: str) -> bool:
    """True if the predicted and gold answers are mathematically equivalent.

    math-verify times out parsing with SIGALRM, which only works in the main thread; elsewhere
    it runs without its own timeout (it raises otherwise).
    """
    if not pred.strip():
        return False
    if _strip_math(pred) == _strip_math(gold):
        return True
    from math_verify import verify

    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    gold_parsed = _mv_parse(gold, timeout)
    pred_parsed = _mv_parse(pred, timeout)
    if not gold_parsed or not pred_parsed:
        return False
    try:
        return bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception:
        return False


# --- GPQA ---------------------------------------------------------------------------------

_LATEX_WRAPPERS = re.compile(r"\\(?:boxed|text|textbf|mathrm|mathbf|fbox)\s*\{([^{}]*)\}")


def _is_article(text: str, index: int) -> bool:
    """Whether the `A` at index is the English article ("A planet with ...")."""
    return text[index] == "A" and re.match(r"\s+[a-z]", text[index + 1 :]) is not None


def extract_choice(text: str, choices: str = "ABCD") -> str | None:
    """The choice letter of a multiple-choice answer: `C`, `(C)`, `C.`, `\\boxed{C}`,
    `**C**`, `Answer: C`, `The answer is (C) 42`, `C) 42`. None if it names no single letter."""
    cls = f"[{choices}]"
    t = text.strip()
    for _ in range(3):  # nested wrappers: \boxed{\text{C}}
        t = _LATEX_WRAPPERS.sub(r"\1", t)
    t = t.replace("*", "").replace("$", "").strip()
    # "C", "(C)", "[C]", "C.", "C)", "C: ...", "C) 42" -- a letter leading the answer
    m = re.match(rf"^[\(\[\s]*({cls})(?:[\)\]\.:,]|\s|$)", t)
    if m and not _is_article(t, m.start(1)):
        return m.group(1)
    # "Answer: C", "the answer is (C)", "correct option is C", "option C"
    m = re.search(
        rf"(?i:answer|option|choice)\s*(?i:is|:)?\s*(?i:option|choice)?\s*[:\s]*[\(\[]?({cls})\b",
        t,
    )
    if m:
        return m.group(1)
    # one distinct standalone capital letter anywhere ("... so (B)")
    # ("A" before a lower-case word is the article, not a choice)
    letters = {
        m.group(0)
        for m in re.finditer(rf"(?<![A-Za-z]){cls}(?![A-Za-z])", t)
        if not _is_article(t, m.start())
    }
    if len(letters) == 1:
        return letters.pop()
    return None


# --- GSM8K --------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?")


def gsm8k_gold(solution: str) -> str:
    """The number after `####` in a GSM8K worked solution, commas removed."""
    _, sep, tail = solution.rpartition("####")
    number = (tail if sep else solution).strip().replace(",", "")
    return number.rstrip(".")


def extract_number(text: str) -> str | None:
    """The final number of a free-form answer: after `####` when present, else the last number
    (commas, `$` and units ignored)."""
    inner = last_boxed(text)
    if inner is not None:
        text = inner
    if "####" in text:
        text = text.rpartition("####")[2]
    text = re.sub(r"(?<=\d),(?=\d{3})", "", text)
    numbers = _NUMBER_RE.findall(text)
    return numbers[-1] if numbers else None


def numbers_equal(a: str, b: str) -> bool:
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        return False


# --- one entry point ----------------------------------------------------------------------


@dataclass(frozen=True)
class Grade:
    pred: str | None  # what was graded (the extracted answer), None if nothing found
    correct: bool


def gold_answer(dataset: str, answer: Any) -> str:
    """The reference answer in gradable form for a dataset's raw `answer` field."""
    if dataset == "gsm8k":
        return gsm8k_gold(str(answer))
    if dataset == "gpqa_diamond":
        return str(answer).strip().strip("()").upper()
    if isinstance(answer, float) and answer.is_integer():
        return str(int(answer))  # AMC23 stores 27.0
    return str(answer).strip()


def grade(dataset: str, text: str, gold: str) -> Grade:
    """Grade a response's answer text (`message.content`) against a gold answer from
    `gold_answer`."""
    pred = extract_answer(text)
    if pred is None:
        return Grade(None, False)
    if dataset == "gpqa_diamond":
        letter = extract_choice(pred)
        return Grade(pred, letter is not None and letter == gold.upper())
    if dataset == "gsm8k":
        number = extract_number(pred)
        return Grade(pred, number is not None and numbers_equal(number, gold))
    if dataset in MATH_DATASETS:
        return Grade(pred, math_equal(pred, gold))
    raise ValueError(f"unknown dataset {dataset!r}")
