"""Where a gateway's "CPU per request" comes from, measured every way people measure it.

Issue 14 quotes two figures for the same gateway: ~7 ms of CPU per 64-token request
(`benchmarks/overhead.py`: /proc utime + stime of the gateway process over a window that starts
once it is ready) and 37-45 ms (another run: the process's CPU time read with psutil, all
threads). This runs one `vtcr1 serve --engine openai` in front of the stand-in upstream (paced
like the tiny model on this CPU: ~400 tokens/s, one stream at a time, as overhead.py does) and
reports, from the same process:

- its CPU to get ready (imports, tokenizer, renderer JIT warm-up) and while idle;
- the CPU of the first request after ready (anything initialised lazily);
- per request over sequential 64- and 4-token requests: the window method (delta of utime +
  stime) and psutil's `cpu_times()` (the same kernel counters: both cover every thread);
- per thread, where the CPU went (the event loop's thread or others);
- what "CPU seconds since start / requests" gives, the figure `ps`/`top` TIME invites.

    python -m capacity_parts.reconcile [--requests 40]   (PYTHONPATH: repo root + benchmarks)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from capacity_parts.procs import child, free_port, wait_http
from capacity_parts.targets import start_standin


def proc_stat_cpu(pid: int) -> float:
    """utime + stime from /proc/PID/stat (overhead.py's reading)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def psutil_cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def threads(pid: int) -> dict[str, float]:
    """CPU seconds per thread, by thread name (/proc/PID/task/TID/comm)."""
    out: dict[str, float] = {}
    for thread in psutil.Process(pid).threads():
        try:
            name = Path(f"/proc/{pid}/task/{thread.id}/comm").read_text().strip()
        except OSError:
            name = "?"
        key = "main (event loop)" if thread.id == pid else name
        out[key] = out.get(key, 0.0) + thread.user_time + thread.system_time
    return out


def request(base: str, max_tokens: int) -> None:
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "What is the sum of the first 20 odd numbers?"}],
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "vtc": {"max_rounds": 1},
    }
    req = urllib.request.Request(
        f"{base}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as response:
        assert b"[DONE]" in response.read()


def window(pid: int, base: str, requests: int, max_tokens: int) -> dict[str, Any]:
    before = (proc_stat_cpu(pid), psutil_cpu(pid), threads(pid), time.monotonic())
    for _ in range(requests):
        request(base, max_tokens)
    after = (proc_stat_cpu(pid), psutil_cpu(pid), threads(pid), time.monotonic())
    per_thread = {k: (v - before[2].get(k, 0.0)) / requests * 1e3 for k, v in after[2].items()}
    return {
        "max_tokens": max_tokens,
        "requests": requests,
        "wall_s": after[3] - before[3],
        "proc_stat_ms_per_request": (after[0] - before[0]) / requests * 1e3,
        "psutil_ms_per_request": (after[1] - before[1]) / requests * 1e3,
        "per_thread_ms_per_request": {k: v for k, v in per_thread.items() if v > 0.05},
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from server.tiny_model import ensure_tiny_model

    model = str(ensure_tiny_model(Path.home() / ".cache" / "vtcr1"))
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        upstream, _ = start_standin(stack, work, root=model, tokens_per_s="400", ttft_ms=20)
        port = free_port()
        command = [sys.executable, "-m", "server.cli", "serve", "--engine", "openai"]
        command += ["--backend-urls", upstream, "--model", model, "--port", str(port)]
        started = time.monotonic()
        proc = stack.enter_context(child(command, work / "gateway.log"))
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/ready", proc, work / "gateway.log")
        out: dict[str, Any] = {"ready_wall_s": time.monotonic() - started}
        out["startup_cpu_s"] = psutil_cpu(proc.pid)
        out["startup_threads_s"] = threads(proc.pid)
        idle = psutil_cpu(proc.pid)
        time.sleep(args.idle_s)  # measuring idle CPU over a fixed span, not synchronising
        out["idle_cpu_ms_per_s"] = (psutil_cpu(proc.pid) - idle) / args.idle_s * 1e3
        first = psutil_cpu(proc.pid)
        request(base, 64)
        out["first_request_cpu_ms"] = (psutil_cpu(proc.pid) - first) * 1e3
        out["windows"] = [window(proc.pid, base, args.requests, n) for n in (64, 4, 64)]
        total = psutil_cpu(proc.pid)
        out["lifetime_cpu_s"] = total
        out["lifetime_requests"] = 1 + 3 * args.requests
        out["lifetime_ms_per_request"] = total / out["lifetime_requests"] * 1e3
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--idle-s", type=float, default=10.0)
    print(json.dumps(run(parser.parse_args(argv)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
