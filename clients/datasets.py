"""Benchmark problems and benchmark prompts from files the user names.

The product ships no data: `vtcr1 eval --data FILE` reads the JSON Lines files published with
the VTC-R1 evaluation code (their field names differ per set, hence the table below), and
`vtcr1 bench --prompts FILE` reads any prompt list, with a small built-in set as default.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.grading import gold_answer

DATASETS = ("math500", "aime25", "amc23", "gpqa_diamond", "gsm8k")
# The paper samples 16 answers per problem on the two small competition sets, one elsewhere.
DEFAULT_SAMPLES = {"aime25": 16, "amc23": 16}
QUESTION_FIELDS = ("problem", "question", "prompt", "input")
ID_FIELDS = ("id", "idx", "unique_id", "problem_id")


@dataclass(frozen=True)
class Problem:
    dataset: str
    id: str
    question: str
    gold: str  # gradable reference answer (see grading.gold_answer)


def default_samples(dataset: str) -> int:
    return DEFAULT_SAMPLES.get(dataset, 1)


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if row.get(name) is not None:
            return row[name]
    return None


def load_problems(path: str | Path, dataset: str) -> list[Problem]:
    """All problems of a benchmark file, in file order.

    Ids come from the file when it has them (so results stay attached to the right problem if
    the file is re-ordered), else the line number; duplicates are made unique with the line
    number because resuming keys on them.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; one of {', '.join(DATASETS)}")
    problems: list[Problem] = []
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno + 1}: not JSON: {exc}") from exc
            question = _first(row, QUESTION_FIELDS)
            answer = row.get("answer")
            if not isinstance(question, str) or answer is None:
                raise ValueError(f"{path}:{lineno + 1}: needs a question and an answer field")
            raw_id = _first(row, ID_FIELDS)
            pid = str(raw_id) if raw_id is not None else str(lineno)
            if pid in seen:
                pid = f"{pid}@{lineno}"
            seen.add(pid)
            problems.append(Problem(dataset, pid, question, gold_answer(dataset, answer)))
    return problems


# A few short prompts of different lengths, so a bench runs without any file.
BUILTIN_PROMPTS = (
    "What is 17 * 23?",
    "Find all real x with x^2 - 5x + 6 = 0.",
    "A train travels 120 km in 1.5 hours. What is its average speed in km/h?",
    "How many positive divisors does 360 have?",
    "Compute the sum of the first 50 positive odd integers.",
    "If 3x + 7 = 25, what is x?",
    "What is the remainder when 2^100 is divided by 7?",
    "A rectangle has perimeter 30 and area 56. What are its side lengths?",
)


def load_prompts(path: str | Path | None) -> list[str]:
    """Prompts for `vtcr1 bench`: a `.jsonl` file (each line's problem/question/prompt field,
    or a JSON string), else a text file with one prompt per line; None: the built-in set."""
    if path is None:
        return list(BUILTIN_PROMPTS)
    p = Path(path)
    prompts: list[str] = []
    with p.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            if p.suffix in (".jsonl", ".json"):
                row = json.loads(line)
                text = row if isinstance(row, str) else _first(row, QUESTION_FIELDS)
                if not isinstance(text, str):
                    raise ValueError(f"{path}: a line has no problem/question/prompt field")
                prompts.append(text)
            else:
                prompts.append(line.rstrip("\n"))
    if not prompts:
        raise ValueError(f"{path}: no prompts")
    return prompts
