"""Fake `vllm serve` replicas: real HTTP servers on loopback that speak vLLM's SSE
chat-completion format and misbehave on request, for the remote engine's routing, retry and
stream-parsing tests (the same paths run against a real `vllm serve` in test_openai_real.py).

Each replica has a name ("r0", "r1", ...) and a behaviour that a test may change at any time:
  ok      the words "a", "b", "c", then the finish chunk and [DONE]
  paced   the same, one chunk each time the test puts a token on `pace`
  stop    the word "x", finished by the caller's stop string "</answer>"
  fast    500 words written at once
  down    the connection is dropped before any response (and /health answers 503)
  500     HTTP 500;  400  HTTP 400
  midway  two chunks, then (once `gate` is set) the connection is dropped
  hang    two chunks, then nothing until the client goes away (which sets `closed`)
  held    two chunks, then (once `release` is set) the rest and [DONE]
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from server.engines.base import (
    ChatMessage,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
)
from server.engines.openai_remote import OpenAIRemoteEngine

FAST_WORDS = 500


def chunk(content: str | None, n: int, finish: str | None = None, **choice: object) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **choice}],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": n,
            "total_tokens": 11 + n,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def sse(words: list[str], finish: str = "length", **choice: object) -> list[bytes]:
    out = [chunk("", 0)]
    out += [chunk(w, i + 1) for i, w in enumerate(words)]
    out.append(chunk(None, len(words), finish, **choice))
    out.append(b"data: [DONE]\n\n")
    return out


class FakeReplicas:
    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour
        self.hits: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self.in_stream = asyncio.Event()
        self.gate = asyncio.Event()
        self.release = asyncio.Event()
        self.pace: asyncio.Queue[None] = asyncio.Queue()
        self.urls: dict[str, str] = {}
        self._names: dict[int, str] = {}
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FakeReplicas:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Cancel a handler whose client went away: that is how `hang` notices the close.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        for name in self.behaviour:
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            port = int(self._runner.addresses[-1][1])
            self._names[port] = name
            self.urls[name] = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def engine(
        self, names: Sequence[str] | None = None, *, model: str = "m", **kwargs: Any
    ) -> OpenAIRemoteEngine:
        info = ModelInfo(name=model, max_model_len=4096, wants_png=True)
        urls = [self.urls[n] for n in (names or list(self.behaviour))]
        return OpenAIRemoteEngine(urls, info, **kwargs)

    def name_of(self, url: str | None) -> str | None:
        return None if url is None else self._names[int(url.rsplit(":", 1)[1])]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = self._names[int(request.url.port or 0)]
        mode = self.behaviour[name]
        if request.path == "/health":
            return web.Response(status=503 if mode == "down" else 200)
        self.hits.append(name)
        self.bodies.append(await request.json())
        if mode == "down":
            return await self._drop(request)
        if mode in ("500", "400"):
            text = "engine dead" if mode == "500" else "prompt too long"
            return web.Response(status=int(mode), text=text)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await self._stream(request, response, mode)
        await response.write_eof()
        return response

    async def _stream(self, request: web.Request, response: web.StreamResponse, mode: str) -> None:
        """The body of a streaming answer, as `mode` says."""
        chunks = {
            "stop": lambda: sse(["x"], "stop", stop_reason="</answer>"),
            "fast": lambda: sse(["w"] * FAST_WORDS),
        }.get(mode, lambda: sse(["a", "b", "c"]))()
        if mode == "fast":
            await response.write(b"".join(chunks))
        elif mode == "held":
            await response.write(chunks[0] + chunks[1])
            await self.release.wait()
            for c in chunks[2:]:
                await response.write(c)
        elif mode in ("midway", "hang"):
            self.gate.clear()  # each midway request waits for its own first delta
            await response.write(chunks[0] + chunks[1])
            if mode == "midway":
                await self.gate.wait()
                await self._drop(request)
            self.in_stream.set()
            try:
                await asyncio.Event().wait()
            finally:
                self.closed.set()
        else:
            for c in chunks:
                if mode == "paced":
                    await self.pace.get()
                await response.write(c)

    @staticmethod
    async def _drop(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        await asyncio.Event().wait()  # cancelled now that the connection is gone
        raise AssertionError("unreachable")


class GateOnFirstDelta:
    """Wraps an engine: opens `fake.gate` once the first delta has been taken by the caller, so
    a `midway` replica fails strictly after the first token reached the loop."""

    def __init__(self, engine: OpenAIRemoteEngine, fake: FakeReplicas) -> None:
        self.inner = engine
        self.info = engine.info
        self.fake = fake

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        request_id: str,
        session_id: str | None = None,
    ) -> AsyncGenerator[GenerationDelta, None]:
        async for delta in self.inner.generate(messages, params, request_id, session_id):
            yield delta
            self.fake.gate.set()

    async def abort(self, request_id: str) -> None:
        await self.inner.abort(request_id)

    async def check_health(self) -> None:
        await self.inner.check_health()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def collect(agen: AsyncIterator[GenerationDelta]) -> list[GenerationDelta]:
    return [d async for d in agen]
