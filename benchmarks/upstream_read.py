"""CPU per streamed token of reading a replica's SSE stream, by HTTP client.

Every token the remote engine relays is one socket read in the gateway; on a machine whose
cores are shared with vLLM, that CPU comes out of the token rate. A stand-in replica (its own
process, one write per chunk every 0.3 ms, vLLM's chunk shape with continuous usage) streams
256 tokens; the reader's thread CPU is measured for:

- httpx `aiter_lines` + json (what the engine used before),
- the engine itself (`OpenAIRemoteEngine.generate`: aiohttp + `SseDecoder` + json + deltas),
- a bare asyncio protocol that splits and parses the same bytes (the floor: one event-loop
  wake-up, one recv, one json.loads per token).

    .venv/bin/python benchmarks/upstream_read.py [--requests 30] [--tokens 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support

from server.engines.base import ChatMessage, GenerationParams, ModelInfo, TextPart
from server.engines.openai_remote import OpenAIRemoteEngine
from tests.support.vllm_process import free_port

REPLICA = """
import asyncio, json, sys

def frame(payload):
    data = b"data: " + payload + b"\\n\\n"
    return b"%x\\r\\n%s\\r\\n" % (len(data), data)

def chunk(i, finish=None):
    delta = {"content": " t%d" % i} if finish is None else {}
    return frame(json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": {"prompt_tokens": 40, "total_tokens": 40 + i, "completion_tokens": i},
    }).encode())

async def handle(reader, writer):
    tokens = int(sys.argv[2])
    while True:
        try:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
        except asyncio.IncompleteReadError:
            return
        length = [h for h in head.split(b"\\r\\n") if h.lower().startswith(b"content-length")]
        await reader.readexactly(int(length[0].split(b":")[1]))
        writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-type: text/event-stream\\r\\n"
                     b"transfer-encoding: chunked\\r\\n\\r\\n")
        for i in range(1, tokens + 1):
            writer.write(chunk(i))
            await writer.drain()
            await asyncio.sleep(0.0003)
        writer.write(chunk(tokens, "length") + frame(b"[DONE]") + b"0\\r\\n\\r\\n")
        await writer.drain()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    async with server:
        await server.serve_forever()

asyncio.run(main())
"""

Reader = Callable[[], Awaitable[int]]  # reads one whole stream, returns the tokens seen


def httpx_reader(client: httpx.AsyncClient, url: str) -> Reader:
    async def read() -> int:
        tokens = 0
        async with client.stream("POST", url, json={"stream": True}) as response:
            async for line in response.aiter_lines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    tokens += bool(json.loads(line[5:])["choices"][0]["delta"])
        return tokens

    return read


def engine_reader(engine: OpenAIRemoteEngine) -> Reader:
    messages = [ChatMessage("user", (TextPart("q"),))]
    params = GenerationParams(max_tokens=1)

    async def read() -> int:
        last = 0
        async for delta in engine.generate(messages, params, "bench"):
            last = delta.generated_tokens
        return last

    return read


class _FloorProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.tokens = 0
        self.done: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        *events, self.buffer = (self.buffer + data).split(b"\n\n")
        for event in events:
            start = event.find(b"data: ")
            if start < 0:
                continue
            payload = event[start + 6 :]
            if payload == b"[DONE]":
                assert self.done is not None
                self.done.set_result(self.tokens)
            elif json.loads(payload)["choices"][0]["delta"]:
                self.tokens += 1


def floor_reader(port: int) -> Reader:
    state: dict[str, _FloorProtocol] = {}

    async def read() -> int:
        loop = asyncio.get_running_loop()
        if "p" not in state:
            _, state["p"] = await loop.create_connection(_FloorProtocol, "127.0.0.1", port)
        protocol = state["p"]
        protocol.tokens, protocol.buffer = 0, b""
        protocol.done = loop.create_future()
        assert protocol.transport is not None
        protocol.transport.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
        )
        return await protocol.done

    return read


async def measure(read: Reader, requests: int) -> tuple[float, int]:
    await read()  # warm: connection, imports
    tokens = 0
    cpu = time.thread_time()
    for _ in range(requests):
        tokens += await read()
    return time.thread_time() - cpu, tokens


async def wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)  # polling for the child to listen
            continue
        writer.close()
        return
    raise RuntimeError("the stand-in replica did not start")


async def bench(args: argparse.Namespace) -> None:
    port = free_port()
    replica = await asyncio.create_subprocess_exec(
        sys.executable, "-c", REPLICA, str(port), str(args.tokens)
    )
    base = f"http://127.0.0.1:{port}"
    engine = OpenAIRemoteEngine([base], ModelInfo(name="m", max_model_len=4096))
    try:
        await wait_listening(port)
        async with httpx.AsyncClient(timeout=30) as client:
            readers = {
                "httpx aiter_lines": httpx_reader(client, base + "/v1/chat/completions"),
                "engine (aiohttp)": engine_reader(engine),
                "asyncio protocol": floor_reader(port),
            }
            results = {}
            for name, read in readers.items():
                cpu, tokens = await measure(read, args.requests)
                assert tokens == args.tokens * args.requests, (name, tokens)
                results[name] = cpu / tokens * 1e6
    finally:
        await engine.aclose()
        replica.kill()
        await replica.wait()
    floor = results["asyncio protocol"]
    print(f"{args.requests} streams x {args.tokens} tokens, one socket read per token")
    for name, us in results.items():
        print(f"  {name:18s} {us:6.1f} us CPU per token  ({us / floor:.2f}x the floor)")
    ratio = results["httpx aiter_lines"] / results["engine (aiohttp)"]
    print(f"httpx / engine: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    try:
        import uvloop  # the event loop uvicorn runs the gateway on, when installed
    except ImportError:
        asyncio.run(bench(args))
    else:
        uvloop.run(bench(args))


if __name__ == "__main__":
    main()
