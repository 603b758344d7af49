"""`vtcr1 eval`: accuracy on the paper's benchmarks through the OpenAI API, as the paper did it.

The question text alone is the user message; sampling is temperature 0.6 / top_p 0.95 with
k samples per problem (16 for AIME25 and AMC23, else 1); the graded answer is the `<answer>`
content after the final `</think>`. Runs take hours on real models, so every finished sample is
appended to DIR/results.jsonl at once and skipped when the command is run again: an interrupted
run resumes where it stopped. The report is rebuilt from that file at the end of each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from clients.common import (
    COMMAND_ERRORS,
    REQUEST_ERRORS,
    add_connection_args,
    add_vtc_args,
    error_text,
    make_client,
    resolve_model,
    stream_chat,
    vtc_body,
)
from clients.datasets import DATASETS, Problem, default_samples, load_problems
from clients.grading import grade
from clients.stats import accuracy_interval, mean

RESULTS = "results.jsonl"
REPORT = "report.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtcr1 eval",
        description="Evaluate a served model on MATH500 / AIME25 / AMC23 / GPQA-Diamond / GSM8K.",
    )
    parser.add_argument("--data", type=Path, required=True, help="the benchmark's .jsonl file")
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    add_connection_args(parser)
    add_vtc_args(parser)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    parser.add_argument(
        "--samples", type=int, default=None, help="samples per problem (default 16 aime25/amc23)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    parser.add_argument("--temperature", type=float, default=0.6)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument(
        "--max-errors",
        type=int,
        default=50,
        help="stop sending after this many failed requests (default 50; rerun resumes)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="directory for results, report")
    return parser


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


def _end_cut_line(path: Path) -> None:
    """Terminate a last line cut short by an interrupted run, so the next appended record
    starts on a line of its own instead of being glued to (and lost with) the fragment."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        f.seek(-1, 2)
        if f.read(1) != b"\n":
            f.write(b"\n")


def result_key(row: dict[str, Any]) -> tuple[str, str, int]:
    return (str(row["dataset"]), str(row["problem_id"]), int(row["sample"]))


def build_report(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-dataset numbers from the result rows (the first row of a duplicated sample counts)."""
    seen: set[tuple[str, str, int]] = set()
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        key = result_key(row)
        if key in seen:
            continue
        seen.add(key)
        by_dataset[key[0]].append(row)
    report: dict[str, dict[str, Any]] = {}
    for dataset in sorted(by_dataset):
        items = by_dataset[dataset]
        per_problem: dict[str, list[bool]] = defaultdict(list)
        for row in items:
            per_problem[str(row["problem_id"])].append(bool(row["correct"]))
        acc, lo, hi = accuracy_interval(list(per_problem.values()))

        def values(name: str, rows_: list[dict[str, Any]] = items) -> list[float]:
            return [float(r[name]) for r in rows_ if isinstance(r.get(name), int | float)]

        reasoning = sum(values("reasoning_tokens"))
        vision = sum(values("vision_tokens"))
        finished = [bool(r["finished"]) for r in items if r.get("finished") is not None]

        def rnd(value: float | None, digits: int = 4) -> float | None:
            return None if value is None else round(value, digits)

        report[dataset] = {
            "accuracy": round(acc, 4),
            "ci95": [round(lo, 4), round(hi, 4)],
            "n_problems": len(per_problem),
            "n_samples": len(items),
            "samples_per_problem": rnd(len(items) / len(per_problem), 2),
            "answer_found_rate": rnd(sum(r.get("pred") is not None for r in items) / len(items)),
            "mean_latency_s": rnd(mean(values("latency_s"))),
            "mean_ttft_s": rnd(mean(values("ttft_s"))),
            "mean_rounds": rnd(mean(values("rounds")), 3),
            "finished_rate": rnd(sum(finished) / len(finished) if finished else None),
            "compression_ratio": rnd(reasoning / vision if vision else None, 3),
            "mean_completion_tokens": rnd(mean(values("completion_tokens")), 1),
            "mean_reasoning_tokens": rnd(mean(values("reasoning_tokens")), 1),
            "mean_vision_tokens": rnd(mean(values("vision_tokens")), 1),
            "modes": sorted({str(r.get("mode")) for r in items}),
            "models": sorted({str(r.get("model")) for r in items}),
        }
    return report


def format_report(report: dict[str, dict[str, Any]]) -> str:
    header = [
        "dataset",
        "problems",
        "samples",
        "accuracy",
        "95% CI",
        "latency s",
        "rounds",
        "compr",
        "tokens",
    ]
    rows = [header]

    def f(value: Any, fmt: str) -> str:
        return "-" if value is None else fmt.format(value)

    for dataset, r in report.items():
        rows.append(
            [
                dataset,
                str(r["n_problems"]),
                str(r["n_samples"]),
                f"{100 * r['accuracy']:.1f}%",
                f"{100 * r['ci95'][0]:.1f}-{100 * r['ci95'][1]:.1f}%",
                f(r["mean_latency_s"], "{:.2f}"),
                f(r["mean_rounds"], "{:.2f}"),
                f(r["compression_ratio"], "{:.2f}x"),
                f(r["mean_completion_tokens"], "{:.0f}"),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="sample", file=sys.stderr, disable=None if enabled else True)


async def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    problems = load_problems(args.data, args.dataset)
    if args.limit is not None:
        problems = problems[: max(0, args.limit)]
    k = args.samples if args.samples is not None else default_samples(args.dataset)
    if k < 1 or args.concurrency < 1:
        err.write("vtcr1 eval: --samples and --concurrency must be at least 1\n")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / RESULTS
    _end_cut_line(results_path)
    done = {result_key(r) for r in load_results(results_path)}
    pending: list[tuple[Problem, int]] = [
        (p, s) for p in problems for s in range(k) if (p.dataset, p.id, s) not in done
    ]
    skipped = len(problems) * k - len(pending)
    if skipped:
        err.write(f"resuming: {skipped} sample(s) already in {results_path}\n")

    body = vtc_body(
        mode=args.mode,
        max_rounds=args.max_rounds,
        round_max_tokens=args.round_max_tokens,
        image_order=args.image_order,
    )
    client = make_client(args.base_url, args.api_key, timeout=args.timeout)
    errors: list[str] = []
    correct = graded = 0
    try:
        model = await resolve_model(client, args.model) if pending else (args.model or "")
        next_index = 0
        with (
            results_path.open("a", encoding="utf-8") as sink,
            _progress(len(pending), not args.no_progress) as bar,
        ):

            async def worker() -> None:
                nonlocal next_index, correct, graded
                while next_index < len(pending) and len(errors) < args.max_errors:
                    problem, sample = pending[next_index]
                    next_index += 1
                    try:
                        result = await stream_chat(
                            client,
                            model=model,
                            messages=[{"role": "user", "content": problem.question}],
                            vtc=body,
                            temperature=args.temperature,
                            top_p=args.top_p,
                            max_tokens=args.max_tokens,
                        )
                    except REQUEST_ERRORS as exc:
                        errors.append(f"{problem.id}#{sample}: {error_text(exc)}")
                        bar.update(1)
                        continue
                    # Graded here, in the event loop's (main) thread: math-verify's timeouts
                    # use SIGALRM, which only the main thread may set.
                    g = grade(problem.dataset, result.content, problem.gold)
                    row = {
                        "dataset": problem.dataset,
                        "problem_id": problem.id,
                        "sample": sample,
                        "model": model,
                        "mode": (result.vtc or {}).get("mode", args.mode),
                        "gold": problem.gold,
                        "pred": g.pred,
                        "correct": g.correct,
                        "content": result.content,
                        "reasoning_chars": len(result.reasoning),
                        **result.record(),
                        "time": round(time.time(), 3),
                    }
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                    sink.flush()
                    graded += 1
                    correct += g.correct
                    bar.update(1)
                    bar.set_postfix(acc=f"{correct / graded:.3f}", err=len(errors))

            await asyncio.gather(*(worker() for _ in range(min(args.concurrency, len(pending)))))
    except COMMAND_ERRORS as exc:
        err.write(f"vtcr1 eval: {error_text(exc)}\n")
        return 1
    finally:
        await client.close()

    report = build_report(load_results(results_path))
    if args.dataset in report:
        report[args.dataset]["errors_last_run"] = len(errors)
        report[args.dataset]["unfinished_last_run"] = len(pending) - graded
    (args.out / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    out.write(format_report(report) + "\n")
    out.write(f"wrote {results_path}, {args.out / REPORT}\n")
    if errors:
        err.write(f"{len(errors)} request(s) failed (run again to retry them), e.g.:\n")
        for line in errors[:5]:
            err.write(f"  {line}\n")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
