"""Gateway overhead: the same single-round request sent straight to `vllm serve` and through
the gateway in remote (`openai`) mode, alternating, on the tiny model.

Both paths get byte-identical chat messages (the VTC system prompt and the question), greedy
decoding and the same `max_tokens`, so the replica does the same work; the difference is the
gateway (validation, loop, SSE/JSON re-encoding, one extra loopback hop). Streaming is used
for both, timed to the last byte. The gateway runs as deployed: its own `vtcr1 serve` process
(a server on the benchmark's own event loop would add ~40 ms of loopback TCP delay to every
request, an artefact of client and server sharing one loop).

    .venv/bin/python benchmarks/overhead.py [--requests 40] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support

from server.settings import VTC_SYSTEM_PROMPT

QUESTION = "What is the sum of the first 20 odd numbers?"


async def timed_stream(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for _ in response.aiter_bytes():
            pass
    return time.perf_counter() - start


async def wait_listening(
    client: httpx.AsyncClient, base: str, path: str = "/ready", timeout_s: float = 120
) -> None:
    """Poll until `base` answers `path` (with 200 for /ready, with anything otherwise)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = (await client.get(f"{base}{path}")).status_code
            if status == 200 or path != "/ready":
                return
        except httpx.TransportError:
            pass  # not listening yet
        assert time.monotonic() < deadline, f"{base} not ready"
        await asyncio.sleep(0.1)


@contextlib.contextmanager
def child_process(command: list[str], **popen: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group, ended with SIGTERM on exit."""
    proc = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL, **popen)
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def direct_body(max_tokens: int) -> dict[str, Any]:
    """The chat request the gateway itself sends the replica for a one-round question."""
    return {
        "model": "tiny",
        "messages": [
            {"role": "system", "content": VTC_SYSTEM_PROMPT},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        ],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
        "skip_special_tokens": False,
    }


Endpoint = tuple[str, dict[str, Any]]  # (url, body)


@dataclass
class Comparison:
    """Latencies of two paths, measured in alternating pairs."""

    first: list[float]
    second: list[float]

    @property
    def ratio(self) -> float:
        """The goal's measure: median of the second path over median of the first."""
        return statistics.median(self.second) / statistics.median(self.first)

    def paired_ratio(self) -> tuple[float, float, float]:
        """Median of the per-pair ratios, with a 95% bootstrap interval. Pairs ran back to
        back, so this cancels the machine's drift (other load, thermal) across the run."""
        ratios = [b / a for a, b in zip(self.first, self.second, strict=True)]
        rng = random.Random(0)
        medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
        return statistics.median(ratios), medians[50], medians[1949]


async def compare(
    client: httpx.AsyncClient, first: Endpoint, second: Endpoint, requests: int
) -> Comparison:
    """Two paths, warmed, then alternating (order flipped every pair)."""
    for _ in range(3):
        for url, body in (first, second):
            await timed_stream(client, url, body)
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(requests):
        order = [0, 1] if i % 2 == 0 else [1, 0]
        for k in order:
            url, body = (first, second)[k]
            times[k].append(await timed_stream(client, url, body))
    return Comparison(*times)


def report(result: Comparison, names: tuple[str, str], goal: float | None = None) -> None:
    d, g = statistics.median(result.first), statistics.median(result.second)
    print(f"{names[0]:22s} median {d * 1e3:.1f} ms")
    print(f"{names[1]:22s} median {g * 1e3:.1f} ms (+{(g - d) * 1e3:.1f} ms)")
    target = f" (goal <= {goal})" if goal else ""
    print(f"latency ratio, median over median: {result.ratio:.3f}{target}")
    paired, low, high = result.paired_ratio()
    print(f"latency ratio, median of pairs:    {paired:.3f} (95% CI {low:.3f}-{high:.3f})")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (Linux /proc: utime and stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")


async def bench(args: argparse.Namespace) -> int:
    from server.tiny_model import ensure_tiny_model
    from tests.support.vllm_process import VllmServer, free_port

    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="vtcr1-bench-"))
    model = str(ensure_tiny_model(cache))
    port = free_port()
    command = [str(Path(sys.executable).with_name("vtcr1")), "serve", "--engine", "openai"]
    command += ["--model", model, "--port", str(port), "--log-level", "warning"]
    gateway = f"http://127.0.0.1:{port}"
    with (
        VllmServer(model, served_model_name="tiny") as replica,
        child_process([*command, "--backend-urls", replica.base_url]) as gateway_process,
    ):
        async with httpx.AsyncClient(timeout=120) as client:
            await wait_listening(client, gateway)
            gateway_body = {
                "model": "tiny",
                "messages": [{"role": "user", "content": QUESTION}],
                "max_tokens": args.max_tokens,
                "temperature": 0.0,
                "stream": True,
                "stream_options": {"include_usage": True},
                "vtc": {"max_rounds": 1},
            }
            cpu_before = cpu_seconds(gateway_process.pid)
            result = await compare(
                client,
                (f"{replica.base_url}/v1/chat/completions", direct_body(args.max_tokens)),
                (f"{gateway}/v1/chat/completions", gateway_body),
                args.requests,
            )
            cpu = (cpu_seconds(gateway_process.pid) - cpu_before) / (args.requests + 3)
    print(f"requests per path: {args.requests}, max_tokens {args.max_tokens}, greedy, streamed")
    report(result, ("direct to vllm serve:", "through the gateway:"), goal=1.05)
    print(f"gateway CPU per request: {cpu * 1e3:.1f} ms (all of its work, fixed cost included)")
    return 0


def run_cli(
    bench: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
    doc: str | None,
    argv: list[str] | None,
) -> int:
    """The command line both comparison benchmarks share."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--cache-dir", default=None)
    return asyncio.run(bench(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> int:
    return run_cli(bench, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
