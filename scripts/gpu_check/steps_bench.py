"""The benchmarks at this machine's real decode speed, and with `--model` the real checkpoint:
the capacity sweep against the replica, then `vtcr1 eval` on a few problems and `vtcr1 bench`
VTC vs baseline through a gateway with the in-process engine (the GPU image's own mode)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scripts.gpu_check.context import Run
from scripts.gpu_check.processes import ROOT, Gateway, run_tool
from scripts.gpu_check.runner import StepFailed, StepUnavailable

CAPACITY = ROOT / "benchmarks" / "capacity.py"
# Hundreds of streams on a GPU (where the gateway's knee shows); the smoke run on CPU.
GPU_CONCURRENCY = "16,64,128,256"

# A few self-written grade-school problems in GSM8K's format (`#### answer`): the product
# ships no benchmark data, and gpu-check must run offline. `--eval-data` takes a real file.
EVAL_PROBLEMS = [
    ("q1", "Tom has 17 apples and buys 25 more. How many apples does he have?", "42"),
    ("q2", "A book costs 12 dollars. How much do 7 books cost?", "84"),
    ("q3", "There are 96 students in 4 equal classes. How many students are in each class?", "24"),
    ("q4", "Sara reads 15 pages a day for 9 days. How many pages does she read?", "135"),
    ("q5", "A train travels 60 km per hour for 3.5 hours. How many km does it travel?", "210"),
]


def capacity(run: Run) -> dict[str, Any]:
    """How many concurrent VTC requests the gateway relays before it, not the engine, limits
    (benchmarks/capacity.py against the real replica: direct vs gateway, side by side)."""
    if not CAPACITY.exists():
        raise StepUnavailable("benchmarks/capacity.py is not on this checkout yet")
    if run.replica_url is None:
        raise StepFailed("no replica")
    out = run.out / "capacity"
    scale = (
        ["--concurrency", GPU_CONCURRENCY, "--rounds", "2"]
        if run.on_gpu and not run.quick
        else ["--quick"]
    )
    proc = run_tool(
        [
            sys.executable,
            str(CAPACITY),
            "--upstream-url",
            run.replica_url,
            "--model",
            str(run.need_tiny()),
            "--no-litellm",
            "--out",
            str(out),
            "--cache-dir",
            str(run.cache_dir),
            *scale,
        ],
        run.log("capacity.log"),
        timeout_s=600,
    )
    result = out / "capacity.json"
    if proc.returncode != 0 or not result.exists():
        raise StepFailed(f"capacity.py exit {proc.returncode} (logs/capacity.log)")
    summary = json.loads(result.read_text()).get("summary", {})
    return {"scale": " ".join(scale), "summary": summary}


def model_serve(run: Run) -> dict[str, Any]:
    """The real checkpoint loads in the in-process engine (CUDA graphs on a GPU) and the
    gateway reports ready; the tiny model's servers are stopped first to free the GPU."""
    if run.model is None:
        raise StepUnavailable("no --model")
    run.stack.close()  # the tiny replica and its gateway hold GPU memory
    args = ["--model", run.model, "--served-model-name", "vtc-r1"]
    if not run.on_gpu:
        args += ["--enforce-eager", "--dtype", "bfloat16"]
    gw = Gateway(args, run.log("model-gateway.log"))
    run.stack.callback(gw.stop)
    ready = gw.wait_ready(timeout_s=1800)
    run.gateway_url = gw.url
    return {"ready_after_s": round(ready, 1), "model": run.model}


def write_eval_problems(path: Path) -> Path:
    rows = [
        {"id": i, "question": q, "answer": f"{a} is the answer.\n#### {a}"}
        for i, q, a in EVAL_PROBLEMS
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def model_eval(run: Run, data: Path | None, dataset: str, limit: int) -> dict[str, Any]:
    """`vtcr1 eval` on a few problems through the real model: graded answers come back."""
    if run.gateway_url is None:
        raise StepFailed("no gateway")
    data = data or write_eval_problems(run.out / "eval-problems.jsonl")
    out = run.out / "eval"
    proc = run_tool(
        [
            sys.executable,
            "-m",
            "server.cli",
            "eval",
            "--base-url",
            f"{run.gateway_url}/v1",
            "--data",
            str(data),
            "--dataset",
            dataset,
            "--limit",
            str(limit),
            "--samples",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ],
        run.log("model-eval.log"),
        timeout_s=1200,
    )
    report = out / "report.json"
    if proc.returncode != 0 or not report.exists():
        raise StepFailed(f"vtcr1 eval exit {proc.returncode} (logs/model-eval.log)")
    numbers = json.loads(report.read_text())[dataset]
    keep = (
        "accuracy",
        "n_problems",
        "answer_found_rate",
        "mean_latency_s",
        "mean_rounds",
        "compression_ratio",
    )
    return {k: numbers.get(k) for k in keep}


def model_bench(run: Run) -> dict[str, Any]:
    """`vtcr1 bench` VTC vs baseline on the real model: both modes answer, with the latency
    ratio per concurrency level."""
    if run.gateway_url is None:
        raise StepFailed("no gateway")
    out = run.out / "bench"
    proc = run_tool(
        [
            sys.executable,
            "-m",
            "server.cli",
            "bench",
            "--base-url",
            f"{run.gateway_url}/v1",
            "--concurrency",
            "1,4",
            "--requests",
            "4",
            "--no-plots",
            "--no-progress",
            "--time-limit",
            "600",
            "--out",
            str(out),
        ],
        run.log("model-bench.log"),
        timeout_s=900,
    )
    report = out / "bench.json"
    if proc.returncode != 0 or not report.exists():
        raise StepFailed(f"vtcr1 bench exit {proc.returncode} (logs/model-bench.log)")
    data = json.loads(report.read_text())
    errors = sum(level["errors"] for level in data["levels"])
    if errors:
        raise StepFailed(f"{errors} failed requests (bench/bench.json)")
    return {"ratios": data["ratios"]}
