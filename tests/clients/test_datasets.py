"""Loading the real benchmark files (the product never needs them; the tests read ../shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients.datasets import (
    BUILTIN_PROMPTS,
    DATASETS,
    default_samples,
    load_problems,
    load_prompts,
)
from clients.grading import grade
from tests.clients.conftest import DATA

ROWS = {"math500": 500, "aime25": 30, "amc23": 40, "gpqa_diamond": 198, "gsm8k": 1319}


@pytest.mark.parametrize("dataset", DATASETS)
def test_real_files_load_completely(dataset: str) -> None:
    problems = load_problems(DATA / f"{dataset}.jsonl", dataset)
    assert len(problems) == ROWS[dataset]
    assert len({p.id for p in problems}) == len(problems)  # ids key the resume
    assert all(p.question.strip() and p.gold for p in problems)
    assert all(p.dataset == dataset for p in problems)


def test_known_rows() -> None:
    aime = load_problems(DATA / "aime25.jsonl", "aime25")
    assert aime[0].gold == "70" and aime[0].question.startswith("Find the sum of all integer bases")
    amc = load_problems(DATA / "amc23.jsonl", "amc23")
    assert amc[0].gold == "27" and "Alicia" in amc[0].question
    gpqa = load_problems(DATA / "gpqa_diamond.jsonl", "gpqa_diamond")
    assert gpqa[0].gold == "D" and "\nA. " in gpqa[0].question
    gsm = load_problems(DATA / "gsm8k.jsonl", "gsm8k")
    assert gsm[0].gold == "18" and "####" not in gsm[0].gold
    math = load_problems(DATA / "math500.jsonl", "math500")
    assert math[0].gold == "\\left( 3, \\frac{\\pi}{2} \\right)"


@pytest.mark.parametrize("dataset", DATASETS)
def test_every_gold_answer_grades_correct_against_itself(dataset: str) -> None:
    """The graders accept every reference answer in the files (catches gold forms a grader
    cannot read); GSM8K and MATH500 are sampled to keep the test fast."""
    problems = load_problems(DATA / f"{dataset}.jsonl", dataset)[:120]
    wrong = [
        p for p in problems if not grade(dataset, f"<answer>{p.gold}</answer>", p.gold).correct
    ]
    assert wrong == []


def test_default_samples_follow_the_paper() -> None:
    assert default_samples("aime25") == default_samples("amc23") == 16
    assert default_samples("math500") == default_samples("gpqa_diamond") == 1


def test_bad_files_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q"}\n')
    with pytest.raises(ValueError, match="answer"):
        load_problems(path, "gsm8k")
    path.write_text("not json\n")
    with pytest.raises(ValueError, match="not JSON"):
        load_problems(path, "gsm8k")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_problems(path, "mmlu")


def test_duplicate_and_missing_ids_are_made_unique(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    rows = [{"id": 1, "problem": "a", "answer": 1}, {"id": 1, "problem": "b", "answer": 2}]
    rows.append({"problem": "c", "answer": 3})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n")
    ids = [p.id for p in load_problems(path, "aime25")]
    assert ids == ["1", "1@1", "2"]


def test_prompts(tmp_path: Path) -> None:
    assert load_prompts(None) == list(BUILTIN_PROMPTS)
    text = tmp_path / "p.txt"
    text.write_text("one\n\ntwo\n")
    assert load_prompts(text) == ["one", "two"]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "x"}\n"y"\n{"problem": "z"}\n')
    assert load_prompts(jsonl) == ["x", "y", "z"]
    assert len(load_prompts(DATA / "aime25.jsonl")) == 30
    empty = tmp_path / "e.txt"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="no prompts"):
        load_prompts(empty)
