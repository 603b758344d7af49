"""Where the gateway's CPU goes per relayed token: py-spy samples grouped by pipeline stage.

`py-spy record --native --format raw` gives one line per distinct stack (root first) and its
sample count. Only the event loop's thread is counted (it does all the per-token work; the
other threads wait on locks) and only its busy samples (a stack ending in `epoll_wait` is the
loop waiting for I/O). Each busy sample goes to the stage of the first frame, from the leaf
up, that a rule below claims: a `json.loads` called by the remote engine is "upstream JSON
decode", a `write` syscall under uvicorn is "socket write". Native frames matter: on this
machine a quarter of the loop's CPU is the write syscall (loopback TCP delivers to the peer in
the sender's syscall), invisible to a Python-only profile.

    python -m capacity_parts.stages gateway.raw [--us-per-token 84]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

IDLE_LEAVES = ("epoll_wait", "epoll_pwait", "PyThread_acquire_lock_timed", "sem_clockwait")

# Stages of a whole call: any frame of the stack decides (checked first, in this order).
CONTEXT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("imports / first use (one-time)", ("<frozen importlib", "_find_and_load")),
    (
        "round end (render flush, PNG, image tokens)",
        ("PageStream.flush", "encode_png", "image_tokens.py", "RenderedPage.png"),
    ),
    (
        "next round's request (messages, PNG base64, body)",
        (
            "server/engines/prompt.py",
            "server/loop/prompt.py",
            "server/engines/remote_request.py",
            "OpenAIRemoteEngine._body",
        ),
    ),
)
# (stage, substrings of a frame "function (file:line)"), tried in order on each frame from the
# leaf up; the first frame any rule matches decides.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("socket write (syscall)", ("write (libc", "writev (libc", "UVStream__try_write")),
    ("socket read (syscall)", ("read (libc", "recv (libc", "uv__read")),
    ("SSE decode (upstream)", ("server/engines/sse.py",)),
    (
        "JSON decode (upstream chunks)",
        ("json/decoder.py", "scan_once", "_parse_object", "loads (json", "orjson"),
    ),
    ("JSON encode (SSE out)", ("json/encoder.py", "encoder_", "dumps (json")),
    ("aiohttp (upstream HTTP)", ("aiohttp/",)),
    (
        "remote engine (stream reading, progress)",
        (
            "server/engines/openai_remote.py",
            "server/engines/remote_stream.py",
            "server/engines/remote_attempt.py",
            "server/engines/routing.py",
        ),
    ),
    ("ThinkSplitter", ("server/loop/output.py", "output.py:")),
    ("renderer (PageStream.feed per token)", ("renderer/", "PIL/", "libz")),
    ("loop (run_loop, _Round)", ("server/loop/runner.py", "runner.py:")),
    ("async-generator layers (service, deadline)", ("server/service.py", "server/deadline.py")),
    ("SSE chunk building (payloads, stream_events)", ("server/api/",)),
    ("Starlette / ASGI send chain", ("starlette/", "anyio/", "fastapi/")),
    ("uvicorn (HTTP out)", ("uvicorn/",)),
    ("metrics", ("prometheus_client/", "server/metrics.py")),
    (
        "event loop (uvloop / asyncio internals)",
        ("uvloop", "uv__", "Loop__", "asyncio/", "task_step"),
    ),
)


def stage_of(frames: list[str]) -> str:
    for stage, needles in CONTEXT_RULES:
        if any(needle in frame for frame in frames for needle in needles):
            return stage
    for frame in reversed(frames):
        for stage, needles in RULES:
            if any(needle in frame for needle in needles):
                return _by_caller(stage, frames)
    return "other"


def _by_caller(stage: str, frames: list[str]) -> str:
    """JSON work is per token only on the token path; the request body of the next round
    (a JSON of messages and page data URLs) is per round."""
    stack = ";".join(frames)
    if stage.startswith("JSON encode") and "server/api/streaming.py" not in stack:
        return "next round's request (messages, PNG base64, body)"
    upstream = ("_stream_from", "StreamProgress", "stream_attempt")
    if stage.startswith("JSON decode") and not any(name in stack for name in upstream):
        return "request parsing (FastAPI, pydantic)"
    return stage


def is_loop_thread(frames: list[str]) -> bool:
    return any(f.startswith(("Runner.run", "Server.run", "run_until_complete")) for f in frames)


def breakdown(raw: Path) -> tuple[Counter[str], int]:
    """Busy samples of the event-loop thread per stage, and their total."""
    stages: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not is_loop_thread(frames) or frames[-1].startswith(IDLE_LEAVES):
            continue
        stages[stage_of(frames)] += int(count)
    return stages, sum(stages.values())


def table(stages: Counter[str], total: int, us_per_token: float | None) -> list[str]:
    head = f"{'stage':<52} {'share':>6}" + (f" {'us/token':>9}" if us_per_token else "")
    lines = [head]
    for stage, count in stages.most_common():
        share = count / total
        cost = f" {share * us_per_token:>9.1f}" if us_per_token else ""
        lines.append(f"{stage:<52} {share:>6.1%}{cost}")
    lines.append(f"({total} busy samples of the event-loop thread)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("raw", type=Path)
    parser.add_argument("--us-per-token", type=float, help="scale shares to us per token")
    args = parser.parse_args(argv)
    stages, total = breakdown(args.raw)
    print("\n".join(table(stages, total, args.us_per_token)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
