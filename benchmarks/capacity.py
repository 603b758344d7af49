"""Capacity: how many concurrent VTC requests the gateway relays before it is what limits the
GPU, side by side with direct access and with the LiteLLM proxy, in one run.

A stand-in `vllm serve` (its own process; `capacity_parts/standin.py`) streams math reasoning
at a GPU's pace (30-60 tokens/s per stream) at a tiny cost per token. For S = 8, 16, ... a load
client (its own process) runs S concurrent VTC requests of R rounds through each path: direct
(R chat requests in a row), the gateway (`vtcr1 serve --engine openai`, one VTC request that
renders pages between rounds; also with `--workers N`), and LiteLLM (R chat requests in a row).
Each S runs every path one after the other, so they see the same machine. Per S and path:
relayed tokens/s, the proxy's CPU (its process tree, all threads: cores and us per relayed
token), the inter-token latency it adds over the upstream's own pacing (p50/p99), the TTFT it
adds, the gap between rounds, errors. The knee is the first S whose added p99 ITL passes
10 ms or that has errors; a path stops there.

    .venv/bin/python benchmarks/capacity.py [--quick] [--upstream-url URL] [--no-litellm]
        [--workers 1,2] [--concurrency 8,16,...] [--rounds R] [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
for _path in (str(ROOT), str(BENCHMARKS)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
# The children (stand-in, client, gateway) import from this tree too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT), str(BENCHMARKS), *filter(None, [os.environ.get("PYTHONPATH")])]
)

from capacity_parts import analysis, report, stages  # noqa: E402
from capacity_parts.litellm_env import litellm_version  # noqa: E402
from capacity_parts.profiling import py_spy  # noqa: E402
from capacity_parts.targets import (  # noqa: E402
    Target,
    direct,
    gateway_supports_workers,
    start_gateway,
    start_litellm,
    start_relay,
    start_standin,
)
from capacity_parts.text import TokenIndex, reasoning_tokens  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ints = lambda text: [int(v) for v in text.split(",") if v]  # noqa: E731
    parser.add_argument("--quick", action="store_true", help="smoke run: S=4, 2 short rounds")
    parser.add_argument("--upstream-url", help="a real `vllm serve` instead of the stand-in")
    parser.add_argument("--model", help="model dir for the gateway (default: the tiny model)")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument("--workers", type=ints, default=[1], help="gateway worker counts: 1,2")
    parser.add_argument("--concurrency", type=ints, default=[8, 16, 32, 64, 128, 256])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-tokens", type=int, default=384)
    parser.add_argument("--tokens-per-s", default="30-60", help="per stream: RATE or LOW-HIGH")
    parser.add_argument("--ttft-ms", type=float, default=50.0, help="the stand-in's prefill")
    parser.add_argument(
        "--gateway-tree",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="also the gateway of another checkout (e.g. before=/work/main), side by side",
    )
    parser.add_argument("--keep-going", action="store_true", help="run every S past the knee")
    parser.add_argument("--relay", action="store_true", help="also a bare byte relay (the floor)")
    parser.add_argument("--profile", type=int, metavar="S", help="py-spy the gateway at this S")
    parser.add_argument("--out", type=Path, default=BENCHMARKS / "results" / "capacity")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "vtcr1")
    args = parser.parse_args(argv)
    if args.quick:
        args.concurrency, args.rounds, args.round_tokens = [4], 2, 48
        args.tokens_per_s = "60"
    return args


def upstream_card(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/v1/models", timeout=10) as response:
        card: dict[str, Any] = json.load(response)["data"][0]
    return card


def standin_call(url: str, path: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}{path}", method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        payload: dict[str, Any] = json.load(response)
    return payload


def run_client(
    target: Target, s: int, args: argparse.Namespace, ctx: dict[str, Any]
) -> dict[str, Any]:
    """One client process: S requests through `target`; its result file."""
    work: Path = ctx["work"]
    job_file, out_file = work / f"job-{target.name}-{s}.json", work / f"out-{target.name}-{s}.json"
    watch = {"upstream": ctx["upstream_pid"]} if ctx["upstream_pid"] else {}
    if target.pid:
        watch["proxy"] = target.pid
    job = {
        "host": target.host,
        "port": target.port,
        "kind": target.kind,
        "model": ctx["model"],
        "concurrency": s,
        "rounds": args.rounds,
        "round_tokens": args.round_tokens,
        "tag": f"{target.name}-{s}-{ctx['run']}",
        "out": str(out_file),
        "authorization": target.authorization,
        "stagger_s": min(2.0, 0.05 * s),
        "watch": watch,
    }
    ctx["run"] += 1
    job_file.write_text(json.dumps(job))
    subprocess.run([sys.executable, "-m", "capacity_parts.loadgen", str(job_file)], check=True)
    result: dict[str, Any] = json.loads(out_file.read_text())
    return result


def profile(targets: list[Target], args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    """Per gateway: the stage breakdown of its busy CPU at S = args.profile (an extra run)."""
    out: dict[str, Any] = {}
    s = args.profile
    for target in targets:
        if target.kind != "vtc" or target.pid is None:
            continue
        measured = [r for r in ctx["rows"] if r["path"] == target.name and r["concurrency"] == s]
        us = measured[0]["cpu"]["proxy"]["us_per_token"] if measured else None
        raw = args.out / f"profile-{target.name}-{s}.raw"
        with py_spy(target.pid, raw):
            measure(target, s, args, {**ctx, "direct_rows": {}})
        shares, total = stages.breakdown(raw)
        print(f"\n{target.name} at S={s}: where its event loop's CPU went (py-spy, native)")
        print("\n".join(stages.table(shares, total, us)))
        out[target.name] = {
            "concurrency": s,
            "us_per_token_unprofiled": us,
            "busy_samples": total,
            "shares": {k: v / total for k, v in shares.most_common()},
        }
    return out


def measure(
    target: Target, s: int, args: argparse.Namespace, ctx: dict[str, Any]
) -> dict[str, Any]:
    standin = ctx["standin_url"]
    if standin:
        standin_call(standin, "/bench/reset", "POST")
    result = run_client(target, s, args, ctx)
    logs = standin_call(standin, "/bench/streams")["streams"] if standin else None
    samples = analysis.collect(result, logs, ctx["index"], args.round_tokens)
    row = {"concurrency": s, "path": target.name, **analysis.summarise(result, samples)}
    row["pages"] = sum(r["pages"] for q in result["requests"] for r in q["rounds"])
    row["past_knee"] = analysis.past_knee(row, ctx["direct_rows"].get(s))
    if target.name == "direct":
        ctx["direct_rows"][s] = row
    return row


def start_targets(
    stack: contextlib.ExitStack, args: argparse.Namespace, ctx: dict[str, Any]
) -> list[Target]:
    upstream, logs = ctx["upstream"], ctx["work"]
    targets = [direct(upstream)]
    max_s = max(args.concurrency)
    can_fork = max(args.workers) == 1 or gateway_supports_workers()
    gateway = functools.partial(
        start_gateway, stack, logs, upstream=upstream, model_dir=ctx["model_dir"]
    )
    for workers in args.workers:
        if workers > 1 and not can_fork:
            print(f"--workers {workers}: `vtcr1 serve --workers` is not available in this tree")
            continue
        targets.append(gateway(workers=workers, max_concurrency=max_s))
    for spec in args.gateway_tree:
        name, _, tree = spec.partition("=")
        targets.append(gateway(workers=1, max_concurrency=max_s, tree=(name, Path(tree).resolve())))
    if args.relay:
        targets.append(start_relay(stack, logs, upstream=upstream))
    if not args.no_litellm:
        targets.append(
            start_litellm(stack, logs, cache=args.cache_dir, upstream=upstream, model=ctx["model"])
        )
    return targets


def sweep(
    targets: list[Target], args: argparse.Namespace, ctx: dict[str, Any]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    warm = argparse.Namespace(**{**vars(args), "rounds": min(2, args.rounds), "round_tokens": 16})
    for target in targets:  # first requests: connections, lazy imports, JIT
        measure(target, 2, warm, {**ctx, "direct_rows": {}})
    report.print_header(os.cpu_count())
    for i, s in enumerate(args.concurrency):
        running = [t for t in targets if t.knee is None]
        if not [t for t in running if t.name != "direct"]:
            break
        # direct first (the reference for this S), then the proxies in a rotating order.
        proxies = [t for t in running if t.name != "direct"]
        order = (
            [t for t in running if t.name == "direct"]
            + proxies[i % len(proxies) :]
            + proxies[: i % len(proxies)]
        )
        for target in order:
            row = measure(target, s, args, ctx)
            rows.append(row)
            print(report.row_line(row), flush=True)
            if row["past_knee"] and target.name != "direct" and not args.keep_going:
                target.knee = s
    return rows


def start_upstream(stack: contextlib.ExitStack, args: argparse.Namespace) -> dict[str, Any]:
    """The run's context: a real upstream's card, or a stand-in started here."""
    work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="vtcr1-capacity-")))
    ctx: dict[str, Any] = {"work": work, "run": 0, "direct_rows": {}, "rows": []}
    ctx.update(upstream_pid=None, standin_url=None, index=TokenIndex(reasoning_tokens(16384)))
    if args.upstream_url:
        card = upstream_card(args.upstream_url)
        ctx.update(upstream=args.upstream_url.rstrip("/"), model=card["id"])
        ctx["model_dir"] = args.model or card.get("root")
        return ctx
    from server.tiny_model import ensure_tiny_model

    ctx["model_dir"] = args.model or str(ensure_tiny_model(args.cache_dir))
    url, pid = start_standin(
        stack, work, root=ctx["model_dir"], tokens_per_s=args.tokens_per_s, ttft_ms=args.ttft_ms
    )
    ctx.update(upstream=url, model="tiny", upstream_pid=pid, standin_url=url)
    return ctx


def write_outputs(
    args: argparse.Namespace, ctx: dict[str, Any], started: datetime.datetime, argv: list[str]
) -> None:
    rows = ctx["rows"]
    summary = report.headline(rows)
    report.print_headline(summary)
    note = report.SHARED_CORES.format(cores=os.cpu_count())
    payload = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["benchmarks/capacity.py", *argv]),
        "machine": ctx["machine"],
        "shared_cores_note": note,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "upstream": "stand-in" if ctx["standin_url"] else args.upstream_url,
        "litellm_version": None if args.no_litellm else litellm_version(args.cache_dir),
        "summary": summary,
        "profile": ctx.get("profile"),
        "rows": rows,
    }
    report.write_json(args.out / "capacity.json", payload)
    title = f"capacity {started:%Y-%m-%d}, R={args.rounds} x {args.round_tokens} tokens\n{note}"
    report.plot(args.out / "capacity.png", rows, title)
    print(f"wrote {args.out / 'capacity.json'} and {args.out / 'capacity.png'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    machine = report.machine()  # the load average before this run's own processes start
    with contextlib.ExitStack() as stack:
        ctx = start_upstream(stack, args)
        ctx["machine"] = machine
        targets = start_targets(stack, args, ctx)
        ctx["rows"] = sweep(targets, args, ctx)
        if args.profile:
            ctx["profile"] = profile(targets, args, ctx)
    write_outputs(args, ctx, started, sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
