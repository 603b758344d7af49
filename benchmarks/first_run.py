"""A newcomer's first run: `vtcr1 serve` on a machine that has never built the tiny model, then
the README's first requests, timed from the command to the end of each answer.

What it times, in one run:
- start -> `/health` (the gateway listens) and -> `/ready` (tiny model built, engine loaded);
- the README's Python example (chat completion, `vtc.max_rounds: 3`, the demo round size);
- the README's curl example (streamed, 2 rounds of 64 tokens): first reasoning byte and end;
- `vtcr1 chat "<question>"` at the server's defaults (its own process, start to exit);
- with `--old-defaults`, the same Python example at the defaults the tiny model had before the
  demo sizes (8 rounds of 8192 tokens), which is what a first question used to cost.

    .venv/bin/python benchmarks/first_run.py [--old-defaults] [--port 8127]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support

from tests.support.waiting import wait_for_url

MODEL = "vtcr1-tiny-glm4v"
QUESTION = "What is 17 * 23?"


def seconds_until_200(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> float:
    start = time.monotonic()
    wait_for_url(url, proc, timeout_s=timeout_s, what="vtcr1 serve", poll_s=0.05)
    return time.monotonic() - start


def python_example(base: str, vtc: dict[str, Any]) -> dict[str, Any]:
    """The README's SDK example; returns its seconds and the response's `vtc` numbers."""
    from openai import OpenAI

    client = OpenAI(base_url=f"{base}/v1", api_key="EMPTY", timeout=3600)
    start = time.monotonic()
    response = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": QUESTION}], extra_body={"vtc": vtc}
    )
    seconds = time.monotonic() - start
    info = (response.model_extra or {})["vtc"]
    return {"seconds": seconds, "rounds": info["rounds"], "pages": info["pages"]}


def curl_example(base: str) -> dict[str, Any]:
    """The README's streamed example: seconds to the first content byte and to the end."""
    body = {
        "model": MODEL,
        "stream": True,
        "messages": [{"role": "user", "content": QUESTION}],
        "vtc": {"max_rounds": 2, "round_max_tokens": 64},
    }
    start = time.monotonic()
    first: float | None = None
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=600) as r:
        for line in r.iter_lines():
            if first is None and '"reasoning_content"' in line:
                first = time.monotonic() - start
    return {"first_token_s": first, "seconds": time.monotonic() - start}


def chat_cli(base: str) -> dict[str, Any]:
    """`vtcr1 chat` as a user types it (the server's demo defaults), process start to exit."""
    vtcr1 = str(Path(sys.executable).with_name("vtcr1"))
    start = time.monotonic()
    done = subprocess.run(
        [vtcr1, "chat", "--base-url", f"{base}/v1", QUESTION],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    pages = sum(1 for line in done.stdout.splitlines() + done.stderr.splitlines() if "page" in line)
    return {"seconds": time.monotonic() - start, "lines_naming_pages": pages}


def timed(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    result = run()
    print(f"{name}: " + ", ".join(f"{k} {_fmt(v)}" for k, v in result.items()), flush=True)
    return {"name": name, **result}


def _fmt(value: Any) -> str:
    return f"{value:.2f} s" if isinstance(value, float) else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8127)
    parser.add_argument("--old-defaults", action="store_true", help="also 8 rounds x 8192")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here")
    args = parser.parse_args(argv)
    base = f"http://127.0.0.1:{args.port}"
    cache = tempfile.mkdtemp(prefix="vtcr1-first-run-")  # nothing built yet
    env = {**os.environ, "VTCR1_CACHE_DIR": cache}
    vtcr1 = str(Path(sys.executable).with_name("vtcr1"))
    start = time.monotonic()
    proc = subprocess.Popen(
        [vtcr1, "serve", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    steps: list[dict[str, Any]] = []
    try:
        health = seconds_until_200(f"{base}/health", proc, 120)
        ready = seconds_until_200(f"{base}/ready", proc, 600)
        steps.append({"name": "start", "health_s": health, "ready_s": ready})
        print(f"start: /health after {health:.2f} s, /ready after {ready:.2f} s", flush=True)
        steps.append(timed("python example", lambda: python_example(base, {"max_rounds": 3})))
        steps.append(timed("curl example", lambda: curl_example(base)))
        steps.append(timed("vtcr1 chat", lambda: chat_cli(base)))
        if args.old_defaults:
            old = {"max_rounds": 8, "round_max_tokens": 8192}
            steps.append(timed("python example, old defaults", lambda: python_example(base, old)))
        total = time.monotonic() - start
        print(f"command -> README examples answered: {total:.1f} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    if args.json:
        args.json.write_text(json.dumps({"steps": steps, "total_s": total}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
