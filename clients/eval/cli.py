"""`vtcr1 eval`: the command's phases. What is left to do is worked out from results.jsonl
(`plan_work`), every pending sample is sent, graded and appended (`sample_all`, `sample_one`),
and the report is rebuilt and printed (`finish`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import openai

from clients.common import (
    COMMAND_ERRORS,
    REQUEST_ERRORS,
    add_compress_input_args,
    add_connection_args,
    add_sampling_args,
    add_vtc_args,
    check_compress_input,
    compress_input_from,
    error_text,
    make_client,
    resolve_model,
    vtc_from_args,
)
from clients.console import progress
from clients.datasets import DATASETS, Problem, default_samples, load_problems
from clients.eval.report import REPORT, build_report, format_report
from clients.eval.results import RESULTS, end_cut_line, load_results, result_key, sample_row
from clients.grading import grade
from clients.pool import closed_loop
from clients.stream import stream_chat


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtcr1 eval",
        description="Evaluate a served model on MATH500 / AIME25 / AMC23 / GPQA-Diamond / GSM8K.",
    )
    parser.add_argument("--data", type=Path, required=True, help="the benchmark's .jsonl file")
    parser.add_argument("--dataset", choices=DATASETS, required=True)
    add_connection_args(parser)
    add_vtc_args(parser)
    add_compress_input_args(parser)
    parser.add_argument("--limit", type=int, default=None, help="first N problems only")
    parser.add_argument(
        "--samples", type=int, default=None, help="samples per problem (default 16 aime25/amc23)"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (8)")
    add_sampling_args(parser, temperature=0.6, top_p=0.95)
    parser.add_argument(
        "--max-errors",
        type=int,
        default=50,
        help="stop sending after this many failed requests (default 50; rerun resumes)",
    )
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="directory for results, report")
    return parser


@dataclass(frozen=True)
class Work:
    """What this run has to do: the samples not yet in results.jsonl."""

    results_path: Path
    pending: list[tuple[Problem, int]]  # (problem, sample number)


@dataclass
class Tally:
    """How the run went, counted as samples finish."""

    errors: list[str] = field(default_factory=list)  # "problem#sample: what went wrong"
    graded: int = 0
    correct: int = 0


def plan_work(args: argparse.Namespace, err: TextIO) -> Work | None:
    """The pending samples (None: bad arguments). Creates OUT and mends a cut last line."""
    problems = load_problems(args.data, args.dataset)
    if args.limit is not None:
        problems = problems[: max(0, args.limit)]
    k = args.samples if args.samples is not None else default_samples(args.dataset)
    if k < 1 or args.concurrency < 1:
        err.write("vtcr1 eval: --samples and --concurrency must be at least 1\n")
        return None
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / RESULTS
    end_cut_line(results_path)
    done = {result_key(r) for r in load_results(results_path)}
    pending = [(p, s) for p in problems for s in range(k) if (p.dataset, p.id, s) not in done]
    skipped = len(problems) * k - len(pending)
    if skipped:
        err.write(f"resuming: {skipped} sample(s) already in {results_path}\n")
        _warn_mixed_compression(results_path, args, err)
    return Work(results_path, pending)


def _warn_mixed_compression(results_path: Path, args: argparse.Namespace, err: TextIO) -> None:
    """An A/B needs one OUT per arm: say so when the kept samples were asked differently."""
    asked = compress_input_from(args)
    earlier = {
        json.dumps(r.get("compress_input"), sort_keys=True)
        for r in load_results(results_path)
        if r.get("dataset") == args.dataset
    }
    if earlier - {json.dumps(asked, sort_keys=True)}:
        err.write(
            f"note: {results_path} holds samples with compress_input "
            f"{', '.join(sorted(earlier))}; this run sends {json.dumps(asked, sort_keys=True)} "
            "(the report mixes them: use one --out per configuration)\n"
        )


async def sample_one(
    client: openai.AsyncOpenAI,
    model: str,
    args: argparse.Namespace,
    body: dict[str, Any],
    problem: Problem,
    sample: int,
) -> dict[str, Any]:
    """Ask the question alone, as the paper did, and grade the answer."""
    result = await stream_chat(
        client,
        model=model,
        messages=[{"role": "user", "content": problem.question}],
        vtc=body,
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
    )
    # Graded here, in the event loop's (main) thread: math-verify's timeouts use SIGALRM,
    # which only the main thread may set.
    g = grade(problem.dataset, result.content, problem.gold)
    return sample_row(
        problem, sample, model=model, asked=body, mode=args.mode, grade=g, result=result
    )


async def sample_all(args: argparse.Namespace, work: Work, body: dict[str, Any]) -> Tally:
    """Every pending sample, --concurrency in flight, each row appended once graded; no new
    request after --max-errors failures."""
    tally = Tally()
    client = make_client(args.base_url, args.api_key, timeout=args.timeout)
    try:
        model = await resolve_model(client, args.model) if work.pending else (args.model or "")
        with (
            work.results_path.open("a", encoding="utf-8") as sink,
            progress(len(work.pending), unit="sample", enabled=not args.no_progress) as bar,
        ):

            async def one(_: int, item: tuple[Problem, int]) -> None:
                problem, sample = item
                try:
                    row = await sample_one(client, model, args, body, problem, sample)
                except REQUEST_ERRORS as exc:
                    tally.errors.append(f"{problem.id}#{sample}: {error_text(exc)}")
                    bar.update(1)
                    return
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
                tally.graded += 1
                tally.correct += row["correct"]
                bar.update(1)
                bar.set_postfix(acc=f"{tally.correct / tally.graded:.3f}", err=len(tally.errors))

            await closed_loop(
                work.pending,
                args.concurrency,
                one,
                go_on=lambda: len(tally.errors) < args.max_errors,
            )
    finally:
        await client.close()
    return tally


def finish(args: argparse.Namespace, work: Work, tally: Tally, out: TextIO, err: TextIO) -> int:
    """Rebuild the report from all of results.jsonl, write and print it, list failures."""
    report = build_report(load_results(work.results_path))
    if args.dataset in report:
        report[args.dataset]["errors_last_run"] = len(tally.errors)
        report[args.dataset]["unfinished_last_run"] = len(work.pending) - tally.graded
    (args.out / REPORT).write_text(json.dumps(report, indent=2) + "\n")
    out.write(format_report(report) + "\n")
    out.write(f"wrote {work.results_path}, {args.out / REPORT}\n")
    if tally.errors:
        err.write(f"{len(tally.errors)} request(s) failed (run again to retry them), e.g.:\n")
        for line in tally.errors[:5]:
            err.write(f"  {line}\n")
        return 1
    return 0


async def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    work = plan_work(args, err)
    if work is None:
        return 2
    try:
        tally = await sample_all(args, work, vtc_from_args(args))
    except COMMAND_ERRORS as exc:
        err.write(f"vtcr1 eval: {error_text(exc)}\n")
        return 1
    return finish(args, work, tally, out, err)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_compress_input(parser, args)
    try:
        return asyncio.run(run(args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        return 130
