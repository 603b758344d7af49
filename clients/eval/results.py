"""`results.jsonl`: one line per graded sample, appended the moment it is graded.

Runs take hours on real models, so this file is the run's state: a rerun reads which samples
are done and sends only the others, and the report is rebuilt from it. A line cut short by an
interrupted write is dropped on reading (its sample runs again) and ended on the next run, so
the record appended after it starts on a line of its own.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from clients.datasets import Problem
from clients.grading import Grade
from clients.stream import StreamResult

RESULTS = "results.jsonl"
SampleKey = tuple[str, str, int]  # dataset, problem id, sample number


def load_results(path: Path) -> list[dict[str, Any]]:
    """Every complete line of results.jsonl; a line cut short by an interrupted write is
    dropped (its sample simply runs again)."""
    if not path.exists():
        return []
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "dataset" in row and "problem_id" in row:
                rows.append(row)
    return rows


def end_cut_line(path: Path) -> None:
    """Terminate a last line cut short by an interrupted run, so the next appended record
    starts on a line of its own instead of being glued to (and lost with) the fragment."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, 2)
        if f.read(1) != b"\n":
            f.write(b"\n")


def result_key(row: dict[str, Any]) -> SampleKey:
    return (str(row["dataset"]), str(row["problem_id"]), int(row["sample"]))


def sample_row(
    problem: Problem,
    sample: int,
    *,
    model: str,
    asked: dict[str, Any],
    mode: str | None,
    grade: Grade,
    result: StreamResult,
) -> dict[str, Any]:
    """The line of one graded sample: what was asked, what came back, how it graded.

    `compress_input` is the `vtc.compress_input` sent (None: off) and `input` the server's
    account of it (`vtc.input`: pages, text and vision tokens), so an A/B with and without is
    traceable sample by sample."""
    return {
        "dataset": problem.dataset,
        "problem_id": problem.id,
        "sample": sample,
        "model": model,
        "mode": (result.vtc or {}).get("mode", mode),
        "gold": problem.gold,
        "pred": grade.pred,
        "correct": grade.correct,
        "content": result.content,
        "reasoning_chars": len(result.reasoning),
        **result.record(),
        "compress_input": asked.get("compress_input"),
        "input": (result.vtc or {}).get("input"),
        "time": round(time.time(), 3),
    }
