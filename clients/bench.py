"""`vtcr1 bench`: a concurrency sweep of VTC against the baseline on the same server.

For each concurrency level, each mode gets the same prompts (modes alternate level by level so a
slow drift of the machine does not favour one), N requests with at most `c` in flight. Numbers
are measured on the client (latency, TTFT) and read from the server's `vtc` object (rounds,
compression). The run is bounded: at most N requests per mode and level, each cut off at
--timeout, and no new request starts after --time-limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import openai

from clients.common import (
    COMMAND_ERRORS,
    MODES,
    REQUEST_ERRORS,
    add_connection_args,
    add_vtc_args,
    error_kind,
    error_text,
    make_client,
    resolve_model,
    stream_chat,
    vtc_body,
)
from clients.datasets import load_prompts
from clients.stats import mean, percentile

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
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-p", type=float, default=None)
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


@dataclass(frozen=True)
class Sampling:
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    vtc: dict[str, Any]


async def one_request(
    client: openai.AsyncOpenAI,
    model: str,
    prompt: str,
    mode: str,
    sampling: Sampling,
    timeout: float,  # noqa: ASYNC109 - per request, applied with wait_for below
) -> dict[str, Any]:
    """One request as a flat record; failures are records too (never raised)."""
    record: dict[str, Any] = {"mode": mode, "ok": False, "error": None, "error_kind": None}
    start = time.perf_counter()
    try:
        result = await asyncio.wait_for(
            stream_chat(
                client,
                model=model,
                messages=[{"role": "user", "content": prompt}],
                vtc={**sampling.vtc, "mode": mode},
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
            ),
            timeout,
        )
    except REQUEST_ERRORS as exc:
        record.update(
            error=error_text(exc),
            error_kind=error_kind(exc),
            latency_s=round(time.perf_counter() - start, 6),
        )
        return record
    record.update(result.record())
    record["ok"] = True
    return record


async def run_level(
    client: openai.AsyncOpenAI,
    model: str,
    *,
    mode: str,
    concurrency: int,
    prompts: Sequence[str],
    n_requests: int,
    sampling: Sampling,
    timeout: float,  # noqa: ASYNC109 - passed on to each request
    deadline: float,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """N requests with at most `concurrency` in flight; returns the records and the wall time.

    A fixed pool of workers pulls request indices, so exactly `concurrency` requests stay in
    flight (a closed loop, like users waiting for their answers), and none starts after the
    deadline.
    """
    records: list[dict[str, Any]] = []
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < n_requests and time.monotonic() < deadline:
            index = next_index
            next_index += 1
            record = await one_request(
                client, model, prompts[index % len(prompts)], mode, sampling, timeout
            )
            record.update(concurrency=concurrency, index=index, prompt_index=index % len(prompts))
            records.append(record)
            if on_done is not None:
                on_done(record)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, n_requests))))
    wall = time.perf_counter() - start
    records.sort(key=lambda r: r["index"])
    return records, wall


def summarize(
    records: Sequence[dict[str, Any]], wall_s: float, *, mode: str, concurrency: int
) -> dict[str, Any]:
    """The numbers of one (mode, concurrency) level."""
    ok = [r for r in records if r.get("ok")]
    latencies = [float(r["latency_s"]) for r in ok]
    ttfts = [float(r["ttft_s"]) for r in ok if r.get("ttft_s") is not None]
    completion = [int(r["completion_tokens"]) for r in ok if r.get("completion_tokens") is not None]
    rounds = [int(r["rounds"]) for r in ok if r.get("rounds") is not None]
    reasoning = sum(int(r.get("reasoning_tokens") or 0) for r in ok)
    vision = sum(int(r.get("vision_tokens") or 0) for r in ok)

    def rnd(value: float | None, digits: int = 4) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "mode": mode,
        "concurrency": concurrency,
        "requests": len(records),
        "ok": len(ok),
        "errors": len(records) - len(ok),
        "error_kinds": dict(Counter(str(r.get("error_kind")) for r in records if not r.get("ok"))),
        "wall_s": rnd(wall_s),
        "requests_per_s": rnd(len(ok) / wall_s if wall_s > 0 else None),
        "latency_mean_s": rnd(mean(latencies)),
        "latency_p50_s": rnd(percentile(latencies, 50)),
        "latency_p95_s": rnd(percentile(latencies, 95)),
        "latency_p99_s": rnd(percentile(latencies, 99)),
        "ttft_p50_s": rnd(percentile(ttfts, 50)),
        "ttft_p95_s": rnd(percentile(ttfts, 95)),
        "completion_tokens_mean": rnd(mean(completion), 1),
        "output_tokens_per_s": rnd(sum(completion) / wall_s if wall_s > 0 and completion else None),
        "rounds_mean": rnd(mean(rounds), 3),
        "compression_ratio": rnd(reasoning / vision if vision else None, 3),
    }


def ratios(levels: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """VTC over baseline, per concurrency level: mean and p50 end-to-end latency ratios (below 1:
    VTC is faster) and the baseline/VTC speed-up the paper reports."""
    by_key = {(lv["mode"], lv["concurrency"]): lv for lv in levels}
    out = []
    for (mode, conc), vtc_level in sorted(by_key.items(), key=lambda kv: kv[0][1]):
        base = by_key.get(("baseline", conc))
        if mode != "vtc" or base is None:
            continue
        vm, bm = vtc_level["latency_mean_s"], base["latency_mean_s"]
        vp, bp = vtc_level["latency_p50_s"], base["latency_p50_s"]
        out.append(
            {
                "concurrency": conc,
                "vtc_over_baseline_mean": round(vm / bm, 4) if vm and bm else None,
                "vtc_over_baseline_p50": round(vp / bp, 4) if vp and bp else None,
                "speedup": round(bm / vm, 4) if vm and bm else None,
            }
        )
    return out


def _cell(value: Any, fmt: str = "{:.3f}") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return fmt.format(value)
    return str(value)


def format_table(levels: Sequence[dict[str, Any]]) -> str:
    header = [
        "mode",
        "conc",
        "ok",
        "err",
        "req/s",
        "p50 s",
        "p95 s",
        "p99 s",
        "ttft p50",
        "tok/s",
        "rounds",
        "compr",
    ]
    rows = [header]
    for lv in levels:
        rows.append(
            [
                str(lv["mode"]),
                str(lv["concurrency"]),
                str(lv["ok"]),
                str(lv["errors"]),
                _cell(lv["requests_per_s"], "{:.2f}"),
                _cell(lv["latency_p50_s"]),
                _cell(lv["latency_p95_s"]),
                _cell(lv["latency_p99_s"]),
                _cell(lv["ttft_p50_s"]),
                _cell(lv["output_tokens_per_s"], "{:.1f}"),
                _cell(lv["rounds_mean"], "{:.2f}"),
                _cell(lv["compression_ratio"], "{:.2f}x"),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    # disable=None: tqdm turns itself off when stderr is not a terminal.
    return tqdm(total=total, unit="req", file=sys.stderr, disable=None if enabled else True)


async def run(args: argparse.Namespace, out: TextIO) -> int:
    prompts = load_prompts(args.prompts)
    client = make_client(args.base_url, args.api_key, timeout=args.timeout)
    sampling = Sampling(
        temperature=args.temperature,
        top_p=args.top_p,
        max_tokens=args.max_tokens,
        vtc=vtc_body(
            max_rounds=args.max_rounds,
            round_max_tokens=args.round_max_tokens,
            image_order=args.image_order,
        ),
    )
    started = time.time()
    deadline = time.monotonic() + args.time_limit
    levels: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    try:
        model = await resolve_model(client, args.model)
        for mode in args.modes:
            for i in range(max(0, args.warmup)):
                await one_request(
                    client, model, prompts[i % len(prompts)], mode, sampling, args.timeout
                )
        total = len(args.modes) * len(args.concurrency) * args.requests
        with _progress(total, not args.no_progress) as bar:
            for conc in args.concurrency:
                modes = args.modes if len(levels) % 2 == 0 else list(reversed(args.modes))
                for mode in modes:
                    bar.set_description(f"{mode} c={conc}")
                    records, wall = await run_level(
                        client,
                        model,
                        mode=mode,
                        concurrency=conc,
                        prompts=prompts,
                        n_requests=args.requests,
                        sampling=sampling,
                        timeout=args.timeout,
                        deadline=deadline,
                        on_done=lambda _r: bar.update(1),
                    )
                    requests.extend(records)
                    level = summarize(records, wall, mode=mode, concurrency=conc)
                    level["skipped"] = args.requests - len(records)
                    levels.append(level)
    except COMMAND_ERRORS as exc:
        sys.stderr.write(f"vtcr1 bench: {error_text(exc)}\n")
        return 1
    finally:
        await client.close()

    levels.sort(key=lambda lv: (args.modes.index(lv["mode"]), lv["concurrency"]))
    ratio_rows = ratios(levels)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {
        "config": {
            "base_url": args.base_url,
            "model": model,
            "modes": args.modes,
            "concurrency": args.concurrency,
            "requests": args.requests,
            "prompts": str(args.prompts) if args.prompts else "builtin",
            "n_prompts": len(prompts),
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
            "top_p": args.top_p,
            "vtc": sampling.vtc,
            "timeout_s": args.timeout,
            "time_limit_s": args.time_limit,
            "started": started,
        },
        "levels": levels,
        "ratios": ratio_rows,
        "requests": requests,
    }
    plots: list[str] = []
    if not args.no_plots:
        try:
            from clients.plots import plot_latency_vs_concurrency, plot_latency_vs_length

            plots.append(
                str(plot_latency_vs_concurrency(levels, args.out / "latency_vs_concurrency.png"))
            )
            plots.append(str(plot_latency_vs_length(requests, args.out / "latency_vs_length.png")))
        except ImportError as exc:  # matplotlib missing: the numbers still matter
            sys.stderr.write(f"vtcr1 bench: no plots ({exc})\n")
    report["plots"] = plots
    (args.out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")

    out.write(format_table(levels) + "\n")
    for row in ratio_rows:
        out.write(
            f"VTC/baseline end-to-end latency at concurrency {row['concurrency']}: "
            f"{_cell(row['vtc_over_baseline_mean'])} (mean), "
            f"{_cell(row['vtc_over_baseline_p50'])} (p50); "
            f"speed-up {_cell(row['speedup'], '{:.2f}x')}\n"
        )
    skipped = sum(lv["skipped"] for lv in levels)
    if skipped:
        out.write(f"time limit reached: {skipped} request(s) not sent\n")
    out.write(f"wrote {args.out / 'bench.json'}" + "".join(f", {p}" for p in plots) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args, sys.stdout))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
