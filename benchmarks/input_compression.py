"""Optical compression of long inputs (`vtc.compress_input`) on the tiny model: a long document
and a short question, with and without compression, as the loop serves them.

Per document size (tokens of the tiny model's tokenizer) and variant, one in-process engine,
the two variants alternating (order flipped every pair), the same document for both sides of a
pair and a fresh document for every pair (so neither side is served from the other's or an
earlier request's prefix or encoder cache). Each request runs 2 rounds of 64 tokens
(`ignore_eos`, greedy). Measured, from the loop's own `RoundStats` and `vtc.input`:

- prompt tokens of round 1 and its TTFT (round submitted -> first token, the engine's prefill);
- the request's TTFT as a user sees it (compression, i.e. tokenizing and rendering, included);
- the end-to-end time of the 2-round request; pages and render time of the input.

Documents are prose from the tiny tokenizer's corpus generator (other seeds than its training
text) interleaved, half the tokens each, with MATH500 problems and solutions when
`shared/data/benchmarks/math500.jsonl` is found above this checkout (else prose only).

The uncompressed 64k-token document needs a context beyond the tiny model's
`max_position_embeddings` (32768): the benchmark sets `VLLM_ALLOW_LONG_MAX_MODEL_LEN=1`, which
is safe here because vLLM's M-RoPE cache holds 4x `max_position_embeddings` positions (131072).
The KV cache needs 512 bytes per token (2 layers x K,V x 2 KV heads x 32 x bf16): 35 MiB for
70k tokens, well inside the CPU engine's 1 GiB default (`VLLM_CPU_KVCACHE_SPACE`).

    .venv/bin/python benchmarks/input_compression.py [--sizes 4096,16384,65536] \\
        [--requests 10,10,4]

`--requests` is pairs per size (one number for all, or one per size): the small sizes are cheap
and, on a loaded machine, need more pairs for a stable median (a 4k-token prefill measured
0.1 s or 1.4 s back to back at load average 15-17).

Writes `input_compression.json` and `input_compression.png` into
benchmarks/results/input_compression/ and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from server.engines.base import ChatMessage, Engine, TextPart
from server.loop.events import LoopResult
from server.loop.request import CompressInput, LoopOptions, LoopRequest, Sampling
from server.loop.runner import run_loop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import input_report as report
from input_documents import (
    PROSE_SEED,
    Documents,
    load_math,
    math500_path,
    prose,
)

QUESTION = "Which problem in the document above has the longest solution? Answer briefly."
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "input_compression"
KV_BYTES_PER_TOKEN = 2 * 2 * 2 * 32 * 2  # layers x (K, V) x KV heads x head_dim x bf16


@dataclass(frozen=True)
class Sample:
    compressed: bool
    doc_tokens: int
    prompt_tokens: int  # round 1, as the engine counted it
    ttft_s: float  # round 1: submitted -> first token (the engine's prefill)
    request_ttft_s: float  # request start -> first token (compression included)
    e2e_s: float  # the whole request
    rounds: int
    cached_tokens_r2: int  # round 2's prompt tokens served from the prefix cache
    pages: int  # input pages
    vision_tokens: int  # of the input pages
    render_s: float  # rendering the input
    text_tokens: int  # what the replaced text would have cost (0 uncompressed)


async def measure(
    engine: Engine,
    document: str,
    *,
    compress: bool,
    doc_tokens: int,
    request_id: str,
    round_tokens: int = 64,
    min_tokens: int = 2048,
    max_images: int = 64,
) -> Sample:
    """One 2-round request through the loop (what `/v1/chat/completions` runs), measured."""
    request = LoopRequest(
        request_id=request_id,
        messages=(ChatMessage("user", (TextPart(document), TextPart(QUESTION))),),
        sampling=Sampling(temperature=0.0, ignore_eos=True),
        options=LoopOptions(
            max_rounds=2,
            round_max_tokens=round_tokens,
            max_images_per_prompt=max_images,
            compress_input=CompressInput(min_tokens=min_tokens) if compress else None,
        ),
    )
    started = time.perf_counter()
    result: LoopResult | None = None
    async for event in run_loop(request, engine):
        if isinstance(event, LoopResult):
            result = event
    e2e = time.perf_counter() - started
    assert result is not None and result.ttft_s is not None
    first = result.rounds[0]
    info = result.input
    return Sample(
        compressed=compress,
        doc_tokens=doc_tokens,
        prompt_tokens=first.prompt_tokens,
        ttft_s=first.ttft_s,
        request_ttft_s=result.ttft_s,
        e2e_s=e2e,
        rounds=len(result.rounds),
        cached_tokens_r2=result.rounds[1].cached_tokens if len(result.rounds) > 1 else 0,
        pages=info.pages if info else 0,
        vision_tokens=info.vision_tokens if info else 0,
        render_s=info.render_s if info else 0.0,
        text_tokens=info.text_tokens if info else 0,
    )


SUMMED = (
    *("prompt_tokens", "ttft_s", "request_ttft_s", "e2e_s", "cached_tokens_r2", "pages"),
    *("vision_tokens", "render_s", "text_tokens", "doc_tokens", "rounds"),
)


def medians(samples: Sequence[Sample]) -> dict[str, float]:
    return {name: statistics.median(getattr(s, name) for s in samples) for name in SUMMED}


def ratios(plain: dict[str, float], packed: dict[str, float]) -> dict[str, float]:
    """without / with: how many times fewer tokens, how many times faster."""
    return {
        name: plain[name] / packed[name]
        for name in ("prompt_tokens", "ttft_s", "request_ttft_s", "e2e_s")
    }


def load() -> float:
    return os.getloadavg()[0]


async def run_size(
    engine: Engine, docs: Documents, size: int, requests: int, first_variant: int
) -> dict[str, Any]:
    """`requests` pairs for one size, alternating, a fresh document per pair."""
    samples: dict[bool, list[Sample]] = {True: [], False: []}
    loads = [load()]
    for i in range(requests):
        variant = first_variant + i
        document = docs.build(size, variant)
        tokens = docs.count(document)
        for compress in (True, False) if i % 2 == 0 else (False, True):
            request_id = f"input-{size}-{variant}-{int(compress)}"
            sample = await measure(
                engine, document, compress=compress, doc_tokens=tokens, request_id=request_id
            )
            samples[compress].append(sample)
            report.print_sample(asdict(sample), load())
        loads.append(load())
    plain, packed = medians(samples[False]), medians(samples[True])
    return {
        "size": size,
        "without": plain,
        "with": packed,
        "ratios": ratios(plain, packed),
        "load_1min": loads,
        "samples": [asdict(s) for s in (*samples[False], *samples[True])],
    }


async def floor(engine: Engine, docs: Documents) -> dict[str, Any]:
    """Text tokens per full page vs vision tokens per page, per kind of text: the most the
    prompt can shrink (the question, the system prompt and the image markers come on top)."""
    from renderer import render_pages

    overhead = int(engine.info.extra.get("image_overhead_tokens", 0))  # type: ignore[call-overload]
    kinds = {"prose": "\n\n".join(itertools.islice(prose(PROSE_SEED - 1), 150))}
    if docs.math:
        kinds["math"] = "\n\n".join(docs.math[:60])
    out: dict[str, Any] = {"image_overhead_tokens": overhead}
    for kind, text in kinds.items():
        pages = await asyncio.to_thread(render_pages, text, max_pages=1000)
        tokens = docs.count(text)
        ratio = tokens / sum(engine.info.image_tokens(*p.size) for p in pages)
        per_page = engine.info.image_tokens(*pages[0].size)  # a full page (the last is cropped)
        out[kind] = {
            "tokens": tokens,
            "pages": len(pages),
            "page_size": list(pages[0].size),
            "vision_tokens_per_full_page": per_page,
            "text_tokens_per_full_page": ratio * per_page,
            "ratio": ratio,
        }
    return out


def commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    changed = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"
    )
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if changed else "")


def engine_settings(args: argparse.Namespace) -> Any:
    """A context for the largest uncompressed document plus the rounds; past the tiny model's
    `max_position_embeddings` vLLM must be told it may (see the module docstring)."""
    from server.settings import Settings
    from server.tiny_model.build import MAX_POSITIONS

    max_len = max(args.sizes) + 4096
    if max_len > MAX_POSITIONS:
        os.environ.setdefault("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    kv_mib = max_len * KV_BYTES_PER_TOKEN / 2**20
    print(
        f"max_model_len {max_len}: {kv_mib:.0f} MiB of KV for a full context, cache "
        f"{os.environ['VLLM_CPU_KVCACHE_SPACE']} GiB; documents {describe(args)}; "
        f"load {load():.1f}"
    )
    extra: dict[str, Any] = {"cache_dir": Path(args.cache_dir)} if args.cache_dir else {}
    return Settings(max_model_len=max_len, enforce_eager=True, **extra)


def describe(args: argparse.Namespace) -> str:
    return "prose + MATH500" if args.math else "prose only"


async def bench(args: argparse.Namespace) -> int:
    from server.engines.factory import create_engine, resolve_model
    from server.engines.tokenizer import ModelTokenizer

    settings = engine_settings(args)
    tokenizer = ModelTokenizer.load(resolve_model(settings))  # the engine's, read locally
    encode = functools.partial(tokenizer.encode, add_special_tokens=False)
    docs = Documents(encode, tokenizer.decode, args.math)
    engine = await create_engine(settings)
    try:
        limits = await floor(engine, docs)
        report.print_floor(limits)
        warm = docs.build(2500, 0)
        for compress in (True, False):  # engine, renderer JIT, tokenizer
            await measure(
                engine, warm, compress=compress, doc_tokens=2500, request_id=f"w{compress}"
            )
        print(report.HEADER)
        rows, variant = [], 1
        for size, pairs in zip(args.sizes, args.requests, strict=True):
            rows.append(await run_size(engine, docs, size, pairs, variant))
            variant += pairs
    finally:
        await engine.aclose()
    report.print_table(rows)
    write(args, rows, limits)
    return 0


def write(args: argparse.Namespace, rows: list[dict[str, Any]], limits: dict[str, Any]) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    when, at = datetime.date.today().isoformat(), commit()
    loads = [x for row in rows for x in row["load_1min"]]
    title = (
        f"tiny model, 2 CPU cores, medians of {'/'.join(map(str, args.requests))} pairs, {when}, "
        f"{at}, load average {min(loads):.1f}-{max(loads):.1f}"
    )
    result = {
        "date": when,
        "commit": at,
        "command": " ".join([".venv/bin/python benchmarks/input_compression.py", *sys.argv[1:]]),
        "cores": os.cpu_count(),
        "documents": describe(args),
        "question": QUESTION,
        "floor": limits,
        "rows": rows,
    }
    (out / "input_compression.json").write_text(json.dumps(result, indent=2) + "\n")
    report.plot(rows, out / "input_compression.png", title)
    print(f"\n{title}\nwrote {out}/input_compression.json and .png")


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=ints, default=[4096, 16384, 65536])
    parser.add_argument("--requests", type=ints, default=[10, 10, 4], help="pairs per size")
    parser.add_argument("--math500", type=Path, default=None, help="default: found above")
    parser.add_argument("--prose-only", action="store_true")
    parser.add_argument("--cache-dir", default=None, help="where the tiny model is built")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    if len(args.requests) == 1:
        args.requests *= len(args.sizes)
    if len(args.requests) != len(args.sizes):
        parser.error("--requests: one number, or one per size")
    args.math = [] if args.prose_only else load_math(args.math500 or math500_path())
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
