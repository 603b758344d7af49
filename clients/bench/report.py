"""What a sweep is reduced to: a level's numbers, the VTC/baseline ratios, the table printed at
the end, and `bench.json` with its plots."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from clients.console import cell
from clients.console import format_table as aligned_table
from clients.stats import mean, percentile

REPORT = "bench.json"


def _rnd(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


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
    return {
        "mode": mode,
        "concurrency": concurrency,
        "requests": len(records),
        "ok": len(ok),
        "errors": len(records) - len(ok),
        "error_kinds": dict(Counter(str(r.get("error_kind")) for r in records if not r.get("ok"))),
        "wall_s": _rnd(wall_s),
        "requests_per_s": _rnd(len(ok) / wall_s if wall_s > 0 else None),
        "latency_mean_s": _rnd(mean(latencies)),
        "latency_p50_s": _rnd(percentile(latencies, 50)),
        "latency_p95_s": _rnd(percentile(latencies, 95)),
        "latency_p99_s": _rnd(percentile(latencies, 99)),
        "ttft_p50_s": _rnd(percentile(ttfts, 50)),
        "ttft_p95_s": _rnd(percentile(ttfts, 95)),
        "completion_tokens_mean": _rnd(mean(completion), 1),
        "output_tokens_per_s": _rnd(
            sum(completion) / wall_s if wall_s > 0 and completion else None
        ),
        "rounds_mean": _rnd(mean(rounds), 3),
        "compression_ratio": _rnd(reasoning / vision if vision else None, 3),
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


HEADER = ["mode", "conc", "ok", "err", "req/s", "p50 s", "p95 s", "p99 s", "ttft p50", "tok/s"]
HEADER += ["rounds", "compr"]


def format_table(levels: Sequence[dict[str, Any]]) -> str:
    """One row per mode and level."""
    rows = [
        [
            str(lv["mode"]),
            str(lv["concurrency"]),
            str(lv["ok"]),
            str(lv["errors"]),
            cell(lv["requests_per_s"], "{:.2f}"),
            cell(lv["latency_p50_s"]),
            cell(lv["latency_p95_s"]),
            cell(lv["latency_p99_s"]),
            cell(lv["ttft_p50_s"]),
            cell(lv["output_tokens_per_s"], "{:.1f}"),
            cell(lv["rounds_mean"], "{:.2f}"),
            cell(lv["compression_ratio"], "{:.2f}x"),
        ]
        for lv in levels
    ]
    return aligned_table(HEADER, rows)


def run_config(
    args: argparse.Namespace, *, model: str, n_prompts: int, vtc: dict[str, Any], started: float
) -> dict[str, Any]:
    """The `config` of bench.json: enough to rerun the same sweep."""
    return {
        "base_url": args.base_url,
        "model": model,
        "modes": args.modes,
        "concurrency": args.concurrency,
        "requests": args.requests,
        "prompts": str(args.prompts) if args.prompts else "builtin",
        "n_prompts": n_prompts,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "vtc": vtc,
        "timeout_s": args.timeout,
        "time_limit_s": args.time_limit,
        "started": started,
    }


def write_plots(
    levels: Sequence[dict[str, Any]], requests: Sequence[dict[str, Any]], out_dir: Path
) -> list[str]:
    """The two PNGs; none (and a note on stderr) without matplotlib: the numbers still matter."""
    try:
        from clients.bench.plots import plot_latency_vs_concurrency, plot_latency_vs_length

        return [
            str(plot_latency_vs_concurrency(levels, out_dir / "latency_vs_concurrency.png")),
            str(plot_latency_vs_length(requests, out_dir / "latency_vs_length.png")),
        ]
    except ImportError as exc:
        sys.stderr.write(f"vtcr1 bench: no plots ({exc})\n")
        return []


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    path = out_dir / REPORT
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def print_summary(out: TextIO, report: dict[str, Any], path: Path) -> None:
    """The table, a ratio line per level, what the time limit cut, and what was written."""
    levels = report["levels"]
    out.write(format_table(levels) + "\n")
    for row in report["ratios"]:
        out.write(
            f"VTC/baseline end-to-end latency at concurrency {row['concurrency']}: "
            f"{cell(row['vtc_over_baseline_mean'])} (mean), "
            f"{cell(row['vtc_over_baseline_p50'])} (p50); "
            f"speed-up {cell(row['speedup'], '{:.2f}x')}\n"
        )
    skipped = sum(lv["skipped"] for lv in levels)
    if skipped:
        out.write(f"time limit reached: {skipped} request(s) not sent\n")
    out.write(f"wrote {path}" + "".join(f", {p}" for p in report["plots"]) + "\n")
