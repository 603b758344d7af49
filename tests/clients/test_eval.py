"""`vtcr1 eval` end to end against the fake server: grading through HTTP, sampling, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clients import eval as eval_cli
from clients.datasets import load_problems
from tests.clients.conftest import DATA, Fake
from tests.clients.fake_server import FakeReply


def answering(answers: dict[str, str]) -> Any:
    """A responder answering each question with the given text (after two rounds)."""

    def responder(question: str, vtc: dict[str, Any]) -> FakeReply:
        return FakeReply(["first round", "second round"], answers.get(question, "no idea"))

    return responder


def run_eval(fake: Fake, data: Path, dataset: str, out: Path, *extra: str) -> int:
    argv = ["--base-url", fake.url, "--data", str(data), "--dataset", dataset]
    return eval_cli.main([*argv, "--out", str(out), "--no-progress", *extra])


def rows_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_real_math500_graded_through_http(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    problems = load_problems(DATA / "math500.jsonl", "math500")[:6]
    # right in various forms for the first four, wrong for the last two
    answers = {p.question: f"<answer>{p.gold}</answer>" for p in problems[:4]}
    answers[problems[0].question] = (
        "<answer>(3, \\pi/2)</answer>"  # gold: \left( 3, \frac{\pi}{2} \right)
    )
    answers[problems[4].question] = "<answer>-12345</answer>"
    fake.state.responder = answering(answers)
    out = tmp_path / "out"
    assert run_eval(fake, DATA / "math500.jsonl", "math500", out, "--limit", "6") == 0
    rows = rows_of(out)
    assert len(rows) == 6
    correct = {r["problem_id"]: r["correct"] for r in rows}
    assert [correct[p.id] for p in problems] == [True, True, True, True, False, False]
    report = json.loads((out / "report.json").read_text())["math500"]
    assert report["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    assert report["n_problems"] == report["n_samples"] == 6
    assert report["ci95"][0] < report["accuracy"] < report["ci95"][1]
    assert report["mean_rounds"] == 2 and report["finished_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert report["answer_found_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert report["mean_latency_s"] > 0 and report["compression_ratio"] > 0
    assert report["errors_last_run"] == 0
    stdout = capsys.readouterr().out
    assert "math500" in stdout and "66.7%" in stdout


def test_request_follows_the_paper(fake: Fake, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "g.jsonl", [{"question": "Q1", "answer": "so\n#### 1,000"}])
    fake.state.responder = answering({"Q1": "<answer>1000</answer>"})
    argv = ["--mode", "vtc", "--max-rounds", "4", "--round-max-tokens", "64"]
    assert run_eval(fake, data, "gsm8k", tmp_path / "o", *argv) == 0
    (body,) = fake.state.requests
    assert body["messages"] == [{"role": "user", "content": "Q1"}]  # the question alone
    assert body["temperature"] == 0.6 and body["top_p"] == 0.95
    assert body["vtc"] == {"mode": "vtc", "max_rounds": 4, "round_max_tokens": 64}
    assert rows_of(tmp_path / "o")[0]["correct"] is True


def test_sixteen_samples_by_default_on_aime25(fake: Fake, tmp_path: Path) -> None:
    problems = load_problems(DATA / "aime25.jsonl", "aime25")
    fake.state.responder = answering({problems[0].question: f"<answer>{problems[0].gold}</answer>"})
    assert run_eval(fake, DATA / "aime25.jsonl", "aime25", tmp_path, "--limit", "1") == 0
    rows = rows_of(tmp_path)
    assert sorted(r["sample"] for r in rows) == list(range(16))
    assert len(fake.state.requests) == 16
    report = json.loads((tmp_path / "report.json").read_text())["aime25"]
    assert report["n_problems"] == 1 and report["n_samples"] == 16
    assert report["samples_per_problem"] == 16 and report["accuracy"] == 1.0


def test_gpqa_letters_graded_through_http(fake: Fake, tmp_path: Path) -> None:
    rows = [{"question": f"Q{i}", "answer": "B"} for i in range(4)]
    data = write_jsonl(tmp_path / "gpqa.jsonl", rows)
    fake.state.responder = answering(
        {
            "Q0": "<answer>B</answer>",
            "Q1": "<answer>(B) 42 kJ</answer>",
            "Q2": "The answer is \\boxed{B}",
            "Q3": "<answer>C</answer>",
        }
    )
    assert run_eval(fake, data, "gpqa_diamond", tmp_path / "o", "--concurrency", "2") == 0
    graded = {r["problem_id"]: r["correct"] for r in rows_of(tmp_path / "o")}
    assert graded == {"0": True, "1": True, "2": True, "3": False}


def test_resume_skips_done_samples_and_survives_a_cut_line(fake: Fake, tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"id": i, "question": f"Q{i}", "answer": "#### 7"} for i in range(4)]
    )
    fake.state.responder = answering({f"Q{i}": "<answer>7</answer>" for i in range(4)})
    out = tmp_path / "o"
    assert run_eval(fake, data, "gsm8k", out, "--limit", "2") == 0
    assert len(fake.state.requests) == 2
    with (out / "results.jsonl").open("a") as f:
        f.write('{"dataset": "gsm8k", "problem_id": "2", "sam')  # interrupted mid-write
    assert run_eval(fake, data, "gsm8k", out) == 0
    sent = [b["messages"][0]["content"] for b in fake.state.requests]
    assert sent[:2] == ["Q0", "Q1"] and sorted(sent[2:]) == ["Q2", "Q3"]
    rows = eval_cli.load_results(out / "results.jsonl")
    assert sorted(r["problem_id"] for r in rows) == ["0", "1", "2", "3"]
    # a third run has nothing to do and sends nothing
    assert run_eval(fake, data, "gsm8k", out) == 0
    assert len(fake.state.requests) == 4
    assert json.loads((out / "report.json").read_text())["gsm8k"]["n_samples"] == 4


def test_failed_requests_are_not_recorded_and_retried_on_rerun(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"question": "fine", "answer": "#### 1"},
            {"question": "FAIL me", "answer": "#### 2"},
            {"question": "BREAK me", "answer": "#### 3"},
        ],
    )
    fake.state.responder = answering({"fine": "<answer>1</answer>"})
    out = tmp_path / "o"
    assert run_eval(fake, data, "gsm8k", out, "--concurrency", "1") == 1
    err = capsys.readouterr().err
    assert "2 request(s) failed" in err and "engine died mid-stream" in err
    assert [r["problem_id"] for r in rows_of(out)] == ["0"]
    assert run_eval(fake, data, "gsm8k", out, "--concurrency", "1") == 1  # retried, fail again
    assert [b["messages"][0]["content"] for b in fake.state.requests] == [
        "fine",
        "FAIL me",
        "BREAK me",
        "FAIL me",
        "BREAK me",
    ]


def test_max_errors_stops_sending(fake: Fake, tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"question": f"FAIL {i}", "answer": "#### 1"} for i in range(10)]
    )
    argv = ["--max-errors", "3", "--concurrency", "1"]
    assert run_eval(fake, data, "gsm8k", tmp_path / "o", *argv) == 1
    assert len(fake.state.requests) == 3


def test_report_covers_every_dataset_in_the_results(tmp_path: Path) -> None:
    def row(dataset: str, pid: str, sample: int, correct: bool) -> dict[str, Any]:
        return {
            "dataset": dataset,
            "problem_id": pid,
            "sample": sample,
            "correct": correct,
            "pred": "1",
            "latency_s": 2.0,
            "rounds": 2,
            "reasoning_tokens": 30,
            "vision_tokens": 10,
            "completion_tokens": 40,
        }

    rows = [row("aime25", "a", s, s < 3) for s in range(4)] + [row("aime25", "b", 0, False)]
    rows += [row("gsm8k", "x", 0, True), row("gsm8k", "x", 0, False)]  # duplicate: first counts
    report = eval_cli.build_report(rows)
    assert set(report) == {"aime25", "gsm8k"}
    assert report["aime25"]["accuracy"] == 0.6 and report["aime25"]["n_problems"] == 2
    assert report["aime25"]["compression_ratio"] == 3.0
    assert report["gsm8k"]["n_samples"] == 1 and report["gsm8k"]["accuracy"] == 1.0
    table = eval_cli.format_report(report)
    assert "60.0%" in table and "3.00x" in table


def test_compress_input_is_sent_and_recorded_for_an_ab(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"question": f"Q{i}", "answer": "#### 7"} for i in range(3)]
    )
    fake.state.responder = answering({f"Q{i}": "<answer>7</answer>" for i in range(3)})
    arm_b = ["--compress-input", "all", "--compress-input-min-tokens", "4096"]
    assert run_eval(fake, data, "gsm8k", tmp_path / "a") == 0
    assert run_eval(fake, data, "gsm8k", tmp_path / "b", *arm_b) == 0
    sent = [b.get("vtc", {}).get("compress_input") for b in fake.state.requests]
    assert sent == [None] * 3 + [{"min_tokens": 4096, "scope": "all"}] * 3
    rows_b = rows_of(tmp_path / "b")
    assert all(r["compress_input"] == {"min_tokens": 4096, "scope": "all"} for r in rows_b)
    # the server's account of it (the fake compresses nothing this short: 0 pages)
    assert all(r["input"]["pages"] == 0 for r in rows_b)
    assert all(r["compress_input"] is None and r["input"] is None for r in rows_of(tmp_path / "a"))
    report_a = json.loads((tmp_path / "a" / "report.json").read_text())["gsm8k"]
    report_b = json.loads((tmp_path / "b" / "report.json").read_text())["gsm8k"]
    assert report_a["compress_input"] == [None]
    assert report_b["compress_input"] == [{"min_tokens": 4096, "scope": "all"}]
    assert report_a["mean_prompt_tokens"] == report_b["mean_prompt_tokens"] > 0
    assert "note:" not in capsys.readouterr().err


def test_default_scope_and_threshold(fake: Fake, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"question": "Q", "answer": "#### 1"}])
    assert run_eval(fake, data, "gsm8k", tmp_path / "o", "--compress-input") == 0
    (body,) = fake.state.requests
    assert body["vtc"] == {"compress_input": {"min_tokens": 2048, "scope": "documents"}}


def test_mixing_configurations_in_one_out_is_pointed_out(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl", [{"question": f"Q{i}", "answer": "#### 7"} for i in range(2)]
    )
    out = tmp_path / "o"
    assert run_eval(fake, data, "gsm8k", out, "--limit", "1") == 0
    assert run_eval(fake, data, "gsm8k", out, "--compress-input") == 0
    err = capsys.readouterr().err
    assert "note:" in err and "use one --out per configuration" in err
    report = json.loads((out / "report.json").read_text())["gsm8k"]
    assert report["compress_input"] == [None, {"min_tokens": 2048, "scope": "documents"}]


def test_threshold_without_compress_input_is_refused(tmp_path: Path) -> None:
    argv = ["--data", "x", "--dataset", "gsm8k", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        eval_cli.main([*argv, "--compress-input-min-tokens", "10"])
    assert exc.value.code == 2
