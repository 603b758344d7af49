"""A minimal OpenAI-compatible server that speaks the VTC contract, for end-to-end tests of the
clients over real HTTP without the real server or a model.

Each request's answer comes from a `responder(question, vtc) -> FakeReply`; the server splits
the scripted reasoning into whitespace "tokens", streams them as `reasoning_content`/`reasoning`
deltas, sends a `vtc` round marker (with one PNG page per rendered round when `return_pages`),
then the answer as `content`, the final chunk with the whole `vtc` object, usage and `[DONE]`.
With `vtc.stream_pages`, each page is also its own chunk, mid-round (after half the round's
tokens), shaped exactly as the page-streaming contract says (`choices: []`, top-level
`vtc.page` = round, index, kind, vision_tokens, width, height, url); with `vtc.compress_input`
the input pages (`tests/clients/fake_input.py`) stream first, and the final object has
`vtc.input`. Every request body is kept in `FakeState.requests` for tests to assert on. Unknown
`vtc` fields get the real server's 400 (its `vtc` object forbids extras), so a client cannot
send a misspelt one.

A question containing "FAIL" gets an OpenAI-shaped HTTP 500, "BREAK" an in-band error object
after the stream has started (what the real server does then), "CRASH" the same after round 1,
"SLOW" is answered only after 3 s (a server too slow for the client's timeout). With `barrier`
set, a request waits (10 s at most) until that many are in flight, so a test can see the
client's concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tests.clients.fake_input import compress_input_error
from tests.clients.fake_plan import (
    FakeReply,
    Plan,
    Responder,
    default_responder,
    make_plan,
    question_of,
)

__all__ = ["MODEL", "FakeReply", "FakeState", "Responder", "create_fake_app", "serve"]

MODEL = "fake-vtc"
VTC_FIELDS = {"mode", "max_rounds", "round_max_tokens", "image_order", "return_pages"}
VTC_FIELDS |= {"stream_pages", "compress_input"}


@dataclass
class FakeState:
    responder: Responder = default_responder
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)  # Authorization headers received
    barrier: int | None = None
    in_flight: int = 0
    arrived: int = 0
    max_in_flight: int = 0
    _cond: asyncio.Condition | None = None

    async def enter(self) -> None:
        """Count the request in; with a barrier, hold it until its wave of `barrier` requests
        (the 1st..nth, the n+1th..2nth, ...) has arrived. Counting arrivals, not requests in
        flight, keeps waves exact when earlier requests finish meanwhile."""
        self.in_flight += 1
        self.arrived += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.barrier is None:
            return
        if self._cond is None:
            self._cond = asyncio.Condition()
        target = -(-self.arrived // self.barrier) * self.barrier
        async with self._cond:
            self._cond.notify_all()
            # bounded: a client that never completes a wave shows as a low max_in_flight
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._cond.wait_for(lambda: self.arrived >= target), 10)

    def leave(self) -> None:
        self.in_flight -= 1


def _error(status: int, message: str, kind: str = "server_error") -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": kind, "param": None, "code": None}},
    )


def _refusal(vtc: dict[str, Any], question: str) -> JSONResponse | None:
    """The error response a request gets before any streaming, None when it goes ahead."""
    if "FAIL" in question:
        return _error(500, "scripted failure")
    unknown = sorted(set(vtc) - VTC_FIELDS)
    if unknown:
        message = f"vtc.{unknown[0]}: extra inputs are not permitted"
        return _error(400, message, "invalid_request_error")
    problem = compress_input_error(vtc["compress_input"]) if "compress_input" in vtc else None
    return _error(400, problem, "invalid_request_error") if problem else None


def _in_band_error() -> str:
    """What the real server sends when a stream fails after its first byte, then [DONE]."""
    error = {"message": "engine died mid-stream", "type": "server_error", "param": None}
    return f"data: {json.dumps({'error': {**error, 'code': None}})}\n\ndata: [DONE]\n\n"


@dataclass(frozen=True)
class _Envelope:
    """The id, creation time and model every object of one response carries."""

    rid: str
    created: int

    def head(self, obj: str) -> dict[str, Any]:
        return {"id": self.rid, "object": obj, "created": self.created, "model": MODEL}

    def chunk(
        self, delta: dict[str, Any] | None, finish_reason: str | None = None, **extra: Any
    ) -> str:
        """A chunk with one choice, or none (`delta` None: a `vtc` or usage chunk)."""
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        choices = [] if delta is None else [choice]
        payload = {**self.head("chat.completion.chunk"), "choices": choices, **extra}
        return f"data: {json.dumps(payload)}\n\n"

    def completion(self, plan: Plan) -> dict[str, Any]:
        reasoning = "".join(t for r in plan.rounds for t in r)
        message = {"role": "assistant", "content": plan.answer}
        message |= {"reasoning_content": reasoning, "reasoning": reasoning}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return {**self.head("chat.completion"), "choices": [choice], "usage": plan.usage}


def _round(env: _Envelope, plan: Plan, i: int, vtc: dict[str, Any]) -> Iterator[str]:
    """Round i: half its tokens, its pages (with stream_pages: mid-round), the rest, its marker."""
    toks = plan.rounds[i]
    half = len(toks) // 2
    for tok in toks[:half]:
        yield env.chunk({"reasoning_content": tok, "reasoning": tok})
    if vtc.get("stream_pages"):
        for page in plan.pages[i]:
            yield env.chunk(None, vtc={"page": page})
    for tok in toks[half:]:
        yield env.chunk({"reasoning_content": tok, "reasoning": tok})
    marker = dict(plan.per_round[i])
    if vtc.get("return_pages"):
        marker["page_images"] = [p["url"] for p in plan.pages[i]]
    yield env.chunk(None, vtc=marker)


def _events(
    env: _Envelope, plan: Plan, vtc: dict[str, Any], question: str, include_usage: bool
) -> Iterator[str]:
    yield env.chunk({"role": "assistant", "content": ""})
    if "BREAK" in question:  # an error after the first byte goes in-band
        yield env.chunk({"reasoning_content": "partial ", "reasoning": "partial "})
        yield _in_band_error()
        return
    if vtc.get("stream_pages"):  # input pages: before round 1
        for page in plan.input_pages:
            yield env.chunk(None, vtc={"page": page})
    for i in range(len(plan.rounds)):
        yield from _round(env, plan, i, vtc)
        if "CRASH" in question:
            yield _in_band_error()
            return
    for tok in plan.answer_tokens[1:]:
        yield env.chunk({"content": tok})
    yield env.chunk({}, finish_reason="stop", vtc=plan.vtc)
    if include_usage:
        yield env.chunk(None, usage=plan.usage)
    yield "data: [DONE]\n\n"


def create_fake_app(state: FakeState | None = None) -> FastAPI:
    state = state or FakeState()
    app = FastAPI()
    app.state.fake = state

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "tests"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    async def chat(request: Request) -> Any:
        body = await request.json()
        state.requests.append(body)
        state.auth.append(request.headers.get("authorization", ""))
        messages = body.get("messages", [])
        question = question_of(messages)
        vtc = dict(body.get("vtc") or {})
        refusal = _refusal(vtc, question)
        if refusal is not None:
            return refusal
        if "SLOW" in question:
            await asyncio.sleep(3)
        plan = make_plan(vtc, state.responder(question, vtc), messages)
        env = _Envelope(f"chatcmpl-{len(state.requests)}", int(time.time()))
        if not body.get("stream"):
            return {**env.completion(plan), "vtc": plan.vtc}
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        await state.enter()

        async def stream() -> AsyncIterator[str]:
            try:
                for event in _events(env, plan, vtc, question, include_usage):
                    yield event
            finally:
                state.leave()

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run the app with uvicorn in a thread; yields its base URL (…/v1).

    The listening socket is bound and listening before the thread starts, so clients can
    connect at once (the kernel queues them until uvicorn accepts): no start-up wait.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
