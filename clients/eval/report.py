"""The eval report: per-dataset numbers rebuilt from all of results.jsonl, and the table.

Accuracy is the mean over all samples with a 95% interval (`clients/stats.py` says which); the
other numbers (latency, rounds, compression, tokens) are means over the samples that have them.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from clients.console import cell, format_table
from clients.eval.results import SampleKey, result_key
from clients.stats import accuracy_interval, mean

REPORT = "report.json"


def _rnd(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _by_dataset(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each dataset; of a sample recorded twice, the first row counts."""
    seen: set[SampleKey] = set()
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = result_key(row)
        if key in seen:
            continue
        seen.add(key)
        by_dataset[key[0]].append(row)
    return by_dataset


def dataset_numbers(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report entry of one dataset from its (distinct) sample rows."""
    per_problem: dict[str, list[bool]] = defaultdict(list)
    for row in items:
        per_problem[str(row["problem_id"])].append(bool(row["correct"]))
    acc, lo, hi = accuracy_interval(list(per_problem.values()))

    def values(name: str) -> list[float]:
        return [float(r[name]) for r in items if isinstance(r.get(name), int | float)]

    reasoning = sum(values("reasoning_tokens"))
    vision = sum(values("vision_tokens"))
    finished = [bool(r["finished"]) for r in items if r.get("finished") is not None]
    return {
        "accuracy": round(acc, 4),
        "ci95": [round(lo, 4), round(hi, 4)],
        "n_problems": len(per_problem),
        "n_samples": len(items),
        "samples_per_problem": _rnd(len(items) / len(per_problem), 2),
        "answer_found_rate": _rnd(sum(r.get("pred") is not None for r in items) / len(items)),
        "mean_latency_s": _rnd(mean(values("latency_s"))),
        "mean_ttft_s": _rnd(mean(values("ttft_s"))),
        "mean_rounds": _rnd(mean(values("rounds")), 3),
        "finished_rate": _rnd(sum(finished) / len(finished) if finished else None),
        "compression_ratio": _rnd(reasoning / vision if vision else None, 3),
        "mean_prompt_tokens": _rnd(mean(values("prompt_tokens")), 1),
        "mean_completion_tokens": _rnd(mean(values("completion_tokens")), 1),
        "mean_reasoning_tokens": _rnd(mean(values("reasoning_tokens")), 1),
        "mean_vision_tokens": _rnd(mean(values("vision_tokens")), 1),
        "modes": sorted({str(r.get("mode")) for r in items}),
        "models": sorted({str(r.get("model")) for r in items}),
        "compress_input": _distinct(r.get("compress_input") for r in items),
    }


def _distinct(values: Iterable[Any]) -> list[Any]:
    """The different JSON values, in a stable order (null first: off)."""
    unique = {json.dumps(v, sort_keys=True): v for v in values}
    return [unique[key] for key in sorted(unique, key=lambda k: (k != "null", k))]


def build_report(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-dataset numbers from the result rows (the first row of a duplicated sample counts)."""
    by_dataset = _by_dataset(rows)
    return {dataset: dataset_numbers(by_dataset[dataset]) for dataset in sorted(by_dataset)}


HEADER = ["dataset", "problems", "samples", "accuracy", "95% CI", "latency s", "rounds", "compr"]
HEADER += ["tokens"]


def format_report(report: dict[str, dict[str, Any]]) -> str:
    """One row per dataset."""
    rows = [
        [
            dataset,
            str(r["n_problems"]),
            str(r["n_samples"]),
            f"{100 * r['accuracy']:.1f}%",
            f"{100 * r['ci95'][0]:.1f}-{100 * r['ci95'][1]:.1f}%",
            cell(r["mean_latency_s"], "{:.2f}"),
            cell(r["mean_rounds"], "{:.2f}"),
            cell(r["compression_ratio"], "{:.2f}x"),
            cell(r["mean_completion_tokens"], "{:.0f}"),
        ]
        for dataset, r in report.items()
    ]
    return format_table(HEADER, rows)
