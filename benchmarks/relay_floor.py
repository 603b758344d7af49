"""The floor under the gateway-overhead benchmark: a bare byte relay in front of `vllm serve`.

The relay (a few lines of Starlette + aiohttp, its own uvicorn process) forwards the request body
and copies the response bytes back without parsing them: one more loopback HTTP hop and nothing
else. What the gateway adds beyond this is its own work (parse vLLM's chunks, run the loop,
re-encode ours). Same request, same alternation as `benchmarks/overhead.py`.

    .venv/bin/python benchmarks/relay_floor.py [--requests 40]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support


def relay_app() -> Starlette:
    """The relay; `uvicorn --factory relay_floor:relay_app`, upstream from $UPSTREAM. It uses
    the gateway's own upstream client (aiohttp), so only the gateway's work differs."""
    upstream = os.environ["UPSTREAM"]
    sessions: list[aiohttp.ClientSession] = []

    async def chat(request: Request) -> StreamingResponse:
        if not sessions:
            sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        response = await sessions[0].post(
            upstream + "/v1/chat/completions",
            data=await request.body(),
            headers={"content-type": "application/json"},
        )

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            finally:
                response.release()

        return StreamingResponse(relay(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


async def bench(args: argparse.Namespace) -> int:
    from overhead import child_process, compare, direct_body, report, wait_listening

    from server.tiny_model import ensure_tiny_model
    from tests.support.vllm_process import VllmServer, free_port

    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="vtcr1-bench-"))
    model = str(ensure_tiny_model(cache))
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "relay_floor:relay_app"]
    command += ["--port", str(port), "--log-level", "warning"]
    relay = f"http://127.0.0.1:{port}"
    with (
        VllmServer(model, served_model_name="tiny") as replica,
        child_process(
            command,
            cwd=str(Path(__file__).parent),
            env={**os.environ, "UPSTREAM": replica.base_url},
        ),
    ):
        async with httpx.AsyncClient(timeout=120) as client:
            await wait_listening(client, relay, path="/v1/chat/completions")
            body = direct_body(args.max_tokens)
            result = await compare(
                client,
                (f"{replica.base_url}/v1/chat/completions", body),
                (f"{relay}/v1/chat/completions", body),
                args.requests,
            )
    report(result, ("direct to vllm serve:", "through a bare relay:"))
    return 0


def main(argv: list[str] | None = None) -> int:
    from overhead import run_cli

    return run_cli(bench, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
