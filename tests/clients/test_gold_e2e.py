"""The whole path, real server included: `vtcr1 eval` against `server.api.app` on a scripted
engine whose every final round answers with the gold answer must score 100%, on every dataset's
grader, with multi-round (rendered) reasoning, several samples per problem and a resumed run.

The engine replays outputs in request order, so eval runs at concurrency 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clients import eval as eval_cli
from clients.datasets import load_problems
from server.api.app import create_app
from server.settings import Settings
from tests.clients.conftest import DATA
from tests.support.live_server import live_server
from tests.support.scripted import ScriptedEngine

UNFINISHED = "let me think about this problem step by step carefully"


def gold_round(gold: str) -> str:
    return f"so that is settled </think> <answer>{gold}</answer>"


@pytest.mark.parametrize(
    ("dataset", "limit", "samples", "rounds"),
    [("math500", 3, 1, 2), ("gsm8k", 2, 1, 1), ("gpqa_diamond", 2, 1, 2), ("aime25", 2, 2, 1)],
)
def test_gold_answers_score_full_marks(
    dataset: str, limit: int, samples: int, rounds: int, tmp_path: Path
) -> None:
    problems = load_problems(DATA / f"{dataset}.jsonl", dataset)[:limit]
    outputs: list[str] = []
    for problem in problems:
        for _ in range(samples):
            outputs += [UNFINISHED] * (rounds - 1) + [gold_round(problem.gold)]
    engine = ScriptedEngine(outputs)
    app = create_app(Settings(), engine=engine)
    args = ["--data", str(DATA / f"{dataset}.jsonl"), "--dataset", dataset]
    args += ["--samples", str(samples), "--concurrency", "1", "--out", str(tmp_path)]
    args += ["--no-progress", "--model", "scripted"]
    with live_server(app) as base_url:
        base = ["--base-url", base_url + "/v1"]
        # first all but the last problem, then everything: the rerun must send only the rest
        assert eval_cli.main([*base, *args, "--limit", str(limit - 1)]) == 0
        assert eval_cli.main([*base, *args, "--limit", str(limit)]) == 0
    assert engine.outputs == []  # every scripted round consumed, none twice
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == limit * samples
    assert all(r["correct"] for r in rows), [r for r in rows if not r["correct"]]
    assert all(r["rounds"] == rounds and r["finished"] for r in rows)
    report = json.loads((tmp_path / "report.json").read_text())[dataset]
    assert report["accuracy"] == 1.0
    assert report["n_problems"] == limit and report["n_samples"] == limit * samples
    assert report["mean_rounds"] == rounds
    if rounds > 1:
        assert report["compression_ratio"] is not None and report["compression_ratio"] > 0
