"""The steps on the engine itself: build the tiny model, the engine-marked tests, the
inter-round gap benchmark (each of those starts its own engines, so they run before gpu-check
starts its replica), then the replica the API and capacity steps use."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from typing import Any

from scripts.gpu_check.context import Run
from scripts.gpu_check.processes import ROOT, run_tool, start_replica
from scripts.gpu_check.runner import StepFailed, StepSkipped, StepUnavailable
from server.tiny_model import ensure_tiny_model

# pytest's last line, e.g. "12 passed, 1 skipped, 3 warnings in 81.20s (0:01:21)".
_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected)")


def tiny_model(run: Run) -> dict[str, Any]:
    """The tiny GLM-4.1V builds offline (no hub) and is the same bytes as everywhere."""
    run.tiny_dir = ensure_tiny_model(run.cache_dir)
    size = sum(p.stat().st_size for p in run.tiny_dir.rglob("*") if p.is_file())
    return {"path": str(run.tiny_dir), "megabytes": round(size / 1e6, 2)}


def pytest_counts(output: str) -> dict[str, int]:
    tail = output.strip().splitlines()[-1] if output.strip() else ""
    counts = {
        word.rstrip("s") if word.startswith("error") else word: int(n)
        for n, word in _COUNTS.findall(tail)
    }
    return {k: counts.get(k, 0) for k in ("passed", "failed", "error", "skipped")}


def engine_tests(run: Run) -> dict[str, Any]:
    """Every engine-marked test (both engines, the API, the clients, load) passes on this
    machine's engine build: the fixtures start their engines with the same profile as
    gpu-check's replica (CUDA graphs and dtype auto on a GPU)."""
    if run.quick:
        raise StepSkipped("--quick: the test suite runs these itself")
    if importlib.util.find_spec("pytest") is None or not (ROOT / "tests").is_dir():
        raise StepUnavailable("needs a checkout with tests/ and the dev extra (pytest)")
    proc = run_tool(
        [sys.executable, "-m", "pytest", "-m", "engine", "-q", "-p", "no:cacheprovider", "tests"],
        run.log("engine-tests.log"),
        timeout_s=1800 if not run.on_gpu else 600,
    )
    counts = pytest_counts(proc.stdout)
    if proc.returncode != 0 or counts["failed"] or counts["error"] or not counts["passed"]:
        raise StepFailed(f"pytest exit {proc.returncode}: {counts} (logs/engine-tests.log)")
    return counts


_WORST = re.compile(r"worst median incremental gap: ([\d.]+) ms")
_RATIO = re.compile(
    r"round (\d+) tokens: median gap incremental ([\d.]+) ms, after-round "
    r"([\d.]+) ms, ratio ([\d.]+)x"
)


def loop_gap(run: Run) -> dict[str, Any]:
    """The gap between rounds (last token of round k to round k+1 submitted) on this machine:
    benchmarks/loop.py, incremental rendering vs rendering after the round, side by side."""
    rounds = (
        ["--round-tokens", "128", "--requests", "1", "--rounds", "2"]
        if run.quick
        else ["--round-tokens", "256,1024", "--requests", "2", "--rounds", "3"]
    )
    proc = run_tool(
        [sys.executable, "benchmarks/loop.py", *rounds, "--cache-dir", str(run.cache_dir)],
        run.log("loop-gap.log"),
        timeout_s=900,
    )
    worst = _WORST.search(proc.stdout)
    if proc.returncode != 0 or worst is None:
        raise StepFailed(f"benchmarks/loop.py exit {proc.returncode} (logs/loop-gap.log)")
    numbers: dict[str, Any] = {"worst_median_incremental_gap_ms": float(worst.group(1))}
    for tokens, inc, after, ratio in _RATIO.findall(proc.stdout):
        numbers[f"gap_ms_{tokens}_tokens"] = {
            "incremental": float(inc),
            "after_round": float(after),
            "ratio": float(ratio),
        }
    return numbers


def serve(run: Run) -> dict[str, Any]:
    """`vllm serve` of the tiny model comes up on this machine's build: on a GPU with CUDA
    graphs (no --enforce-eager) and dtype auto; on CPU eager bf16."""
    flags = run.profile.serve_flags()
    if run.upstream_url:  # a replica someone else started (the suite's own, in its test)
        run.replica_url = run.upstream_url
        return {"external": run.upstream_url}
    start = time.monotonic()
    server = start_replica(
        str(run.need_tiny()), run.served_name, flags, run.log("vllm-serve.log"), timeout_s=600
    )
    run.stack.callback(server.stop)
    run.replica_url = server.base_url
    return {"healthy_after_s": round(time.monotonic() - start, 1), "flags": " ".join(flags)}
