"""The paths a request can take to the upstream, each started as its own process.

- `direct`: the client talks to the upstream itself (R plain chat requests per VTC request);
- `gateway` / `gateway-Nw`: `vtcr1 serve --engine openai` in front of it (one VTC request of R
  rounds; the loop renders pages between rounds), with `--workers N` when N > 1;
- `relay`: a bare byte relay (`benchmarks/relay_floor.py`: Starlette + aiohttp, what the
  gateway is built on, copying bytes without parsing them): the floor of this stack;
- `litellm`: the LiteLLM proxy in front of it (R plain chat requests, like direct).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from capacity_parts.litellm_env import (
    LITELLM_ENV,
    MASTER_KEY,
    ensure_litellm,
    litellm_command,
    write_config,
)
from capacity_parts.procs import child, free_port, wait_http, wait_http_any


@dataclass
class Target:
    name: str
    kind: str  # "chat" or "vtc" (see loadgen)
    host: str
    port: int
    pid: int | None  # the proxy's process (its tree's CPU is the proxy's), None for direct
    authorization: str | None = None
    knee: int | None = None  # the first S past the knee, once found


def direct(upstream: str) -> Target:
    """The upstream itself, as a path."""
    parsed = urllib.parse.urlsplit(upstream)
    return Target("direct", "chat", parsed.hostname or "127.0.0.1", parsed.port or 80, None)


def start_standin(
    stack: contextlib.ExitStack, logs: Path, *, root: str, tokens_per_s: str, ttft_ms: float
) -> tuple[str, int]:
    """(base URL, pid) of the stand-in upstream."""
    port = free_port()
    command = [sys.executable, "-m", "capacity_parts.standin", "--port", str(port)]
    command += ["--root", root, "--tokens-per-s", tokens_per_s, "--ttft-ms", str(ttft_ms)]
    log = logs / "standin.log"
    proc = stack.enter_context(child(command, log))
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", proc, log, timeout_s=60)
    return url, proc.pid


def gateway_supports_workers() -> bool:
    """Whether this tree's `vtcr1 serve` has `--workers` (issue 14, point 3)."""
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "--workers" in out.stdout


def start_gateway(
    stack: contextlib.ExitStack,
    logs: Path,
    *,
    upstream: str,
    model_dir: str,
    workers: int,
    max_concurrency: int,
    tree: tuple[str, Path] | None = None,
) -> Target:
    """`vtcr1 serve` in remote mode as deployed (default log level, no GPU arguments), with
    admission opened up to the largest S (its default, 64 running, would queue the rest).
    `tree` (name, directory): run the gateway of another checkout (before/after in one run)."""
    port = free_port()
    command = [sys.executable, "-m", "server.cli", "serve", "--engine", "openai"]
    command += ["--backend-urls", upstream, "--model", model_dir, "--port", str(port)]
    command += ["--max-concurrent-requests", str(max_concurrency)]
    command += ["--max-queued-requests", str(max_concurrency)]
    if workers > 1:
        command += ["--workers", str(workers)]
    name = "gateway" if workers == 1 else f"gateway-{workers}w"
    env, cwd = None, None
    if tree is not None:
        name, cwd = f"{name}@{tree[0]}", tree[1]
        env = {"PYTHONPATH": os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])}
    log = logs / f"{name}.log"
    proc = stack.enter_context(child(command, log, env, cwd))
    wait_http(f"http://127.0.0.1:{port}/ready", proc, log)
    return Target(name, "vtc", "127.0.0.1", port, proc.pid)


def start_litellm(
    stack: contextlib.ExitStack, logs: Path, *, cache: Path, upstream: str, model: str
) -> Target:
    executable = ensure_litellm(cache)
    config = write_config(logs / "litellm.yaml", model, upstream)
    port = free_port()
    log = logs / "litellm.log"
    proc = stack.enter_context(child(litellm_command(executable, config, port), log, LITELLM_ENV))
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", proc, log)
    return Target("litellm", "chat", "127.0.0.1", port, proc.pid, authorization=MASTER_KEY)


def start_relay(stack: contextlib.ExitStack, logs: Path, *, upstream: str) -> Target:
    """`relay_floor.relay_app` under uvicorn (uvloop + httptools, as the gateway runs)."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "relay_floor:relay_app"]
    command += ["--port", str(port), "--log-level", "warning"]
    log = logs / "relay.log"
    proc = stack.enter_context(child(command, log, {"UPSTREAM": upstream}))
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    wait_http_any(url, proc, log)
    return Target("relay", "chat", "127.0.0.1", port, proc.pid)
