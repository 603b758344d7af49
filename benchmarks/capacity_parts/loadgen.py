"""The load client: S concurrent VTC requests of R rounds, in its own process.

`vtc` jobs send one request per virtual user to the gateway (`vtc.max_rounds` R, each round
`round_tokens`); `chat` jobs (direct to the upstream, or through a peer proxy) send R plain
streamed chat requests one after the other on a kept-alive connection, so each path moves the
same tokens. Every socket read is stamped with CLOCK_MONOTONIC (shared with the stand-in's write
log) and the characters received so far in the round; the analysis maps characters to tokens.

The client reads with a bare asyncio protocol on uvloop and decodes one JSON per SSE event:
it shares the machine with the proxy it measures, so it must cost as little as it can, and its
CPU is measured and reported next to the proxy's. It also samples the CPU of the processes it
is told to watch, at the start and the end of its load, so the window is exactly the load.

    python -m capacity_parts.loadgen JOB.json   (writes the job's `out` file)
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from array import array
from dataclasses import dataclass, field
from typing import Any, cast

from capacity_parts.http1 import ChunkedDecoder, HttpError, split_head
from capacity_parts.procs import tree_cpu
from server.settings import VTC_SYSTEM_PROMPT

QUESTION = "Find the smallest positive integer n such that the sum of the first n odd numbers "
QUESTION += "exceeds 2024, and explain each step."


@dataclass
class Job:
    host: str
    port: int
    kind: str  # "vtc" (the gateway's loop) or "chat" (R plain requests)
    model: str
    concurrency: int
    rounds: int
    round_tokens: int
    tag: str
    out: str
    authorization: str | None = None
    stagger_s: float = 1.0
    timeout_s: float = 600.0
    watch: dict[str, int] = field(default_factory=dict)


@dataclass
class Round:
    """What one round looked like from the client: when it was asked for (None: by the
    gateway, mid-request) and, per socket read that carried text, when and how much."""

    sent: float | None
    times: array[float] = field(default_factory=lambda: array("d"))
    chars: array[int] = field(default_factory=lambda: array("q"))
    total: int = 0
    reported: int = 0  # tokens the server said it generated (usage, or the round marker)
    pages: int = 0  # pages the gateway rendered from this round

    def add(self, t: float, text: str) -> None:
        self.total += len(text)
        if self.times and self.times[-1] == t:
            self.chars[-1] = self.total
        else:
            self.times.append(t)
            self.chars.append(self.total)

    def public(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "reported": self.reported,
            "pages": self.pages,
            "times": base64.b64encode(self.times.tobytes()).decode(),
            "chars": base64.b64encode(self.chars.tobytes()).decode(),
        }


class StreamClient(asyncio.Protocol):
    """One keep-alive connection; `post` streams one response and feeds its SSE payloads."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.status = 0
        self.decoder: ChunkedDecoder | None = None
        self.sse = b""
        self.on_event: Any = None
        self.done: asyncio.Future[None] | None = None
        self.reusable = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def post(self, head: bytes, body: bytes, on_event: Any) -> int:
        assert self.transport is not None
        self.on_event, self.status, self.decoder, self.sse = on_event, 0, None, b""
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(head + b"content-length: %d\r\n\r\n%b" % (len(body), body))
        await self.done
        return self.status

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        try:
            self._feed(now, data)
        except (HttpError, ValueError) as exc:
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)

    def _feed(self, now: float, data: bytes) -> None:
        if self.decoder is None:
            self.buffer += data
            parsed = split_head(self.buffer)
            if parsed is None:
                return
            head, data = parsed
            self.buffer = b""
            self.status = int(head.first_line[1])
            if not head.chunked:
                raise HttpError(f"HTTP {self.status} without a chunked body")
            self.reusable = head.keep_alive
            self.decoder = ChunkedDecoder()
        body, _ = self.decoder.feed(data)
        if body:
            *events, self.sse = (self.sse + body).split(b"\n\n")
            for event in events:
                if event.startswith(b"data: ") and event != b"data: [DONE]":
                    self.on_event(now, event[6:])
        if self.decoder.done and self.done is not None and not self.done.done():
            self.done.set_result(None)


class User:
    """One virtual user: one VTC request (R rounds) and its record."""

    def __init__(self, job: Job, index: int) -> None:
        self.job = job
        self.tag = f"{job.tag}-{index}"
        self.rounds: list[Round] = []
        self.error: str | None = None
        self.client: StreamClient | None = None
        auth = (
            b"authorization: Bearer %b\r\n" % job.authorization.encode()
            if job.authorization
            else b""
        )
        self.head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: %b:%d\r\n%b"
            b"content-type: application/json\r\naccept: text/event-stream\r\n"
            % (job.host.encode(), job.port, auth)
        )

    def body(self) -> bytes:
        job, question = self.job, f"[capacity {self.tag}] {QUESTION}"
        if job.kind == "vtc":
            return json.dumps(
                {
                    "model": job.model,
                    "messages": [{"role": "user", "content": question}],
                    "stream": True,
                    "max_tokens": job.rounds * job.round_tokens,
                    "vtc": {"max_rounds": job.rounds, "round_max_tokens": job.round_tokens},
                }
            ).encode()
        return json.dumps(
            {
                "model": job.model,
                "messages": [
                    {"role": "system", "content": VTC_SYSTEM_PROMPT},
                    {"role": "user", "content": question},
                ],
                "stream": True,
                "max_tokens": job.round_tokens,
                "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            }
        ).encode()

    def on_event(self, now: float, payload: bytes) -> None:
        event = json.loads(payload)
        if "error" in event and not event.get("choices"):
            self.error = self.error or f"in-band: {event['error'].get('message')}"
            return
        choices = event.get("choices")
        usage = event.get("usage")
        if usage and self.job.kind == "chat":
            self.rounds[-1].reported = usage.get("completion_tokens") or 0
        if not choices:
            return
        delta = choices[0].get("delta") or {}
        text = delta.get("reasoning_content") or delta.get("content") or delta.get("reasoning")
        if text:
            self.rounds[-1].add(now, text)
        elif self.job.kind == "vtc" and "round" in (marker := event.get("vtc") or {}):
            self.rounds[-1].reported = marker.get("generated_tokens") or 0
            self.rounds[-1].pages = marker.get("pages") or 0
            self.rounds.append(Round(None))  # a round marker: the next round starts

    async def run(self, start_at: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, start_at - loop.time()))
        try:
            async with asyncio.timeout(self.job.timeout_s):
                for _ in range(1 if self.job.kind == "vtc" else self.job.rounds):
                    await self.one_request()
        except (OSError, ConnectionError, HttpError, ValueError, TimeoutError) as exc:
            self.error = self.error or f"{type(exc).__name__}: {exc}"
        if self.job.kind == "vtc" and self.rounds and not self.rounds[-1].total:
            self.rounds.pop()  # the marker after the last round opened an empty one
        if self.client is not None and self.client.transport is not None:
            self.client.transport.close()

    async def one_request(self) -> None:
        job = self.job
        if self.client is None or self.client.transport is None or not self.client.reusable:
            loop = asyncio.get_running_loop()
            _, protocol = await loop.create_connection(StreamClient, job.host, job.port)
            self.client = protocol
        self.rounds.append(Round(time.monotonic()))
        status = await self.client.post(self.head, self.body(), self.on_event)
        if status != 200:
            raise HttpError(f"HTTP {status}")

    def public(self) -> dict[str, Any]:
        return {"tag": self.tag, "error": self.error, "rounds": [r.public() for r in self.rounds]}


async def run(job: Job) -> dict[str, Any]:
    users = [User(job, i) for i in range(job.concurrency)]
    loop = asyncio.get_running_loop()
    cpu_before = {name: tree_cpu(pid) for name, pid in job.watch.items()}
    t_start = time.monotonic()
    first = loop.time()
    step = job.stagger_s / job.concurrency
    await asyncio.gather(*(u.run(first + i * step) for i, u in enumerate(users)))
    t_end = time.monotonic()
    cpu = {name: tree_cpu(pid) - cpu_before[name] for name, pid in job.watch.items()}
    return {
        "t_start": t_start,
        "t_end": t_end,
        "cpu_s": cpu,
        "requests": [u.public() for u in users],
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    with open(args[0]) as f:
        job = Job(**json.load(f))
    job.watch["client"] = os.getpid()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(job))
    else:
        result = uvloop.run(run(job))
    with open(job.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
