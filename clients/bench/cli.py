"""`vtcr1 bench`: a concurrency sweep of VTC against the baseline on the same server.

The command's phases, each in its own module: the flags (here), warm-up and the sweep
(`sweep.py`), one timed request (`timing.py`), and the report (`report.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from clients.bench.report import print_summary, ratios, run_config, write_plots, write_report
from clients.bench.sweep import SweepPlan, sweep, warm_up
from clients.bench.timing import Sampling
from clients.common import (
    COMMAND_ERRORS,
    MODES,
    add_connection_args,
    add_sampling_args,
    add_vtc_args,
    error_text,
    make_client,
    resolve_model,
    vtc_from_args,
)
from clients.datasets import load_prompts

MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 1024


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text}") from exc
    if not values or any(v < 1 or v > MAX_CONCURRENCY for v in values):
        raise argparse.ArgumentTypeError(f"concurrency levels must be 1..{MAX_CONCURRENCY}")
    return values


def _modes(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in values if v not in MODES]
    if not values or bad:
        raise argparse.ArgumentTypeError(f"modes are a comma-separated subset of {MODES}")
    return values


def _requests(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_REQUESTS:
        raise argparse.ArgumentTypeError(f"--requests must be 1..{MAX_REQUESTS}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtcr1 bench",
        description="Concurrency sweep of VTC vs baseline against one OpenAI-compatible server.",
    )
    add_connection_args(parser)
    parser.set_defaults(timeout=600.0)
    add_vtc_args(parser, with_mode=False)
    parser.add_argument(
        "--concurrency", type=_int_list, default=[1, 4, 16], help="levels (default: 1,4,16)"
    )
    parser.add_argument(
        "--requests", type=_requests, default=16, help="requests per mode and level (default 16)"
    )
    parser.add_argument("--modes", type=_modes, default=list(MODES), help="default: vtc,baseline")
    parser.add_argument("--prompts", type=Path, default=None, help=".jsonl or one per line")
    add_sampling_args(parser)
    parser.add_argument(
        "--warmup", type=int, default=1, help="unrecorded requests per mode first (default 1)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=1800.0,
        help="no request starts after this many seconds (default 1800)",
    )
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="directory for bench.json, PNGs")
    return parser


def plan_of(args: argparse.Namespace, prompts: list[str], deadline: float) -> SweepPlan:
    sampling = Sampling(
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        vtc=vtc_from_args(args),
    )
    return SweepPlan(
        modes=args.modes,
        concurrency=args.concurrency,
        requests=args.requests,
        prompts=prompts,
        sampling=sampling,
        timeout=args.timeout,
        deadline=deadline,
    )


async def measure(
    args: argparse.Namespace, plan: SweepPlan
) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Model, warm-up, sweep: everything that talks to the server, on one client."""
    client = make_client(args.base_url, args.api_key, timeout=args.timeout)
    try:
        model = await resolve_model(client, args.model)
        await warm_up(client, model, plan, args.warmup)
        levels, requests = await sweep(client, model, plan, show_progress=not args.no_progress)
    finally:
        await client.close()
    return model, levels, requests


async def run(args: argparse.Namespace, out: TextIO) -> int:
    prompts = load_prompts(args.prompts)
    started = time.time()
    plan = plan_of(args, prompts, deadline=time.monotonic() + args.time_limit)
    try:
        model, levels, requests = await measure(args, plan)
    except COMMAND_ERRORS as exc:
        sys.stderr.write(f"vtcr1 bench: {error_text(exc)}\n")
        return 1
    levels.sort(key=lambda lv: (args.modes.index(lv["mode"]), lv["concurrency"]))
    args.out.mkdir(parents=True, exist_ok=True)
    config = run_config(
        args, model=model, n_prompts=len(prompts), vtc=plan.sampling.vtc, started=started
    )
    report: dict[str, Any] = {
        "config": config,
        "levels": levels,
        "ratios": ratios(levels),
        "requests": requests,
    }
    report["plots"] = [] if args.no_plots else write_plots(levels, requests, args.out)
    print_summary(out, report, write_report(report, args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args, sys.stdout))
    except KeyboardInterrupt:
        return 130
