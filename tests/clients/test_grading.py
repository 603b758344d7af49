"""Grading on known answers: the forms models really write, right and wrong."""

from __future__ import annotations

import pytest

from clients.grading import (
    extract_answer,
    extract_choice,
    extract_number,
    gold_answer,
    grade,
    gsm8k_gold,
    last_boxed,
    math_equal,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>a</think><answer>5</answer>", "5"),
        ("reasoning </think>\n<answer> 1/2 </answer>", "1/2"),
        # only the part after the final </think> counts
        ("<answer>3</answer> wait </think> <answer>4</answer>", "4"),
        ("x </think> first <answer>1</answer> then <answer>2</answer>", "2"),
        # unclosed tag at the end of a cut-off answer
        ("</think> <answer>7", "7"),
        # fallback: last \boxed{} when there are no tags
        ("</think> so \\boxed{2} or rather \\boxed{\\frac{3}{4}}", "\\frac{3}{4}"),
        ("</think> nothing here", None),
        ("</think> <answer>  </answer>", None),
        # a \boxed inside the reasoning is not an answer
        ("\\boxed{9} </think> no answer", None),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


def test_last_boxed_balances_braces() -> None:
    assert last_boxed("\\boxed{\\frac{1}{\\sqrt{2}}} end") == "\\frac{1}{\\sqrt{2}}"
    assert last_boxed("\\fbox{x}") == "x"
    assert last_boxed("\\boxed{unclosed") is None


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("0.5", "\\frac{1}{2}"),
        ("1/2", "\\frac{1}{2}"),
        ("\\frac12", "0.5"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("$\\frac{1}{2}$", "1/2"),
        ("\\boxed{1/2}", "\\frac{1}{2}"),
        ("(3, \\pi/2)", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("27", "27.0"),
        ("2\\sqrt{3}", "\\sqrt{12}"),
        ("32348", "\\$32,\\!348"),
        ("x = 5", "5"),
    ],
)
def test_math_equivalent_forms(pred: str, gold: str) -> None:
    assert math_equal(pred, gold)


@pytest.mark.parametrize(
    ("pred", "gold"),
    [
        ("0.6", "\\frac{1}{2}"),
        ("2/1", "\\frac{1}{2}"),
        ("(3, \\pi)", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("28", "27"),
        ("", "1"),
        ("no idea", "70"),
    ],
)
def test_math_non_equivalent_forms(pred: str, gold: str) -> None:
    assert not math_equal(pred, gold)


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("C", "C"),
        ("(C)", "C"),
        ("C.", "C"),
        ("C) 42 m/s", "C"),
        ("[B]", "B"),
        ("\\boxed{D}", "D"),
        ("\\boxed{\\text{A}}", "A"),
        ("**B**", "B"),
        ("$\\mathrm{C}$", "C"),
        ("Answer: D", "D"),
        ("The answer is (A)", "A"),
        ("the correct option is B", "B"),
        ("D. c", "D"),
        ("A planet with twice the mass, so B", "B"),
        ("either C or B", None),
        ("none of them", None),
        ("a", None),
    ],
)
def test_gpqa_choice_letter(text: str, letter: str | None) -> None:
    assert extract_choice(text) == letter


def test_gsm8k_gold_and_numbers() -> None:
    assert gsm8k_gold("She makes 9 * 2 = $18.\n#### 18") == "18"
    assert gsm8k_gold("so\n#### 1,234") == "1234"
    assert gold_answer("gsm8k", "work\n#### -5") == "-5"
    assert extract_number("1,234") == "1234"
    assert extract_number("$18.00 per day") == "18.00"
    assert extract_number("\\boxed{70}") == "70"
    assert extract_number("first 3 then #### 12") == "12"
    assert extract_number("no number") is None


def test_gold_answer_forms() -> None:
    assert gold_answer("amc23", 27.0) == "27"
    assert gold_answer("amc23", 2.5) == "2.5"
    assert gold_answer("aime25", 70) == "70"
    assert gold_answer("gpqa_diamond", "(d)") == "D"
    assert gold_answer("math500", " \\frac{1}{2} ") == "\\frac{1}{2}"


@pytest.mark.parametrize(
    ("dataset", "content", "gold", "correct"),
    [
        ("math500", "<answer>0.5</answer>", "\\frac{1}{2}", True),
        ("math500", "The answer is \\boxed{\\frac{1}{2}}.", "0.5", True),
        ("math500", "<answer>0.6</answer>", "\\frac{1}{2}", False),
        ("aime25", "<answer>070</answer>", "70", True),
        ("amc23", "<answer>27</answer>", "27", True),
        ("gpqa_diamond", "<answer>(D)</answer>", "D", True),
        ("gpqa_diamond", "<answer>\\boxed{C}</answer>", "D", False),
        ("gsm8k", "<answer>$1,234</answer>", "1234", True),
        ("gsm8k", "<answer>18.0</answer>", "18", True),
        ("gsm8k", "<answer>19</answer>", "18", False),
        ("gsm8k", "I don't know", "18", False),
    ],
)
def test_grade(dataset: str, content: str, gold: str, correct: bool) -> None:
    assert grade(dataset, content, gold).correct is correct


def test_grade_reports_what_it_graded() -> None:
    g = grade("math500", "</think> <answer>\\frac{1}{2}</answer>", "0.5")
    assert g.pred == "\\frac{1}{2}" and g.correct
    assert grade("math500", "no answer at all", "1").pred is None


def test_grade_rejects_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="unknown dataset"):
        grade("mmlu", "<answer>1</answer>", "1")
