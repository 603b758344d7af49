"""A minimal OpenAI-compatible server that speaks the VTC contract, for end-to-end tests of the
clients over real HTTP without the real server or a model.

Each request's answer comes from a `responder(question, vtc) -> FakeReply`; the server splits
the scripted reasoning into whitespace "tokens", streams them as `reasoning_content`/`reasoning`
deltas, sends a `vtc` round marker (with one PNG page per rendered round when `return_pages`),
then the answer as `content`, the final chunk with the whole `vtc` object, usage and `[DONE]`.
With `vtc.stream_pages`, each page is also its own chunk, mid-round (after half the round's
tokens), shaped exactly as the page-streaming contract says (`choices: []`, top-level
`vtc.page` = round, index, kind, vision_tokens, width, height, url). Unknown `vtc` fields get
the real server's 400 (its `vtc` object forbids extras), so a client cannot send a misspelt one.
A question containing "FAIL" gets an OpenAI-shaped HTTP 500, "BREAK" an in-band error object
after the stream has started (what the real server does then), "CRASH" the same after round 1,
"SLOW" is answered
only after 3 s (a server too slow for the client's timeout). With `barrier` set, a request waits
(10 s at most) until that many are in flight, so a test can see the client's concurrency.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from PIL import Image

MODEL = "fake-vtc"


@dataclass(frozen=True)
class FakeReply:
    rounds: list[str]  # reasoning of each round (the last round's ends at </think>)
    answer: str  # text after the final </think>


Responder = Callable[[str, dict[str, Any]], FakeReply]


def default_responder(question: str, vtc: dict[str, Any]) -> FakeReply:
    """Two rounds of reasoning, then `<answer>42</answer>`."""
    return FakeReply(
        rounds=[f"round one thinks about {question} for a while", "round two checks the result"],
        answer="<answer>42</answer>",
    )


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


def _tokens(text: str) -> list[str]:
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + ([words[-1]] if words[-1] else [])


PAGE_SIZE = (8, 8)
VISION_TOKENS_PER_PAGE = 2
VTC_FIELDS = {"mode", "max_rounds", "round_max_tokens", "image_order", "return_pages"}
VTC_FIELDS |= {"stream_pages"}


def _png(index: int, kind: str = "reasoning") -> str:
    blue = 160 if kind == "reasoning" else 20
    image = Image.new("RGB", PAGE_SIZE, ((40 * index) % 256, 80, blue))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(round_: int, index: int, kind: str = "reasoning") -> dict[str, Any]:
    """The `vtc.page` object of the contract."""
    width, height = PAGE_SIZE
    return {
        "round": round_,
        "index": index,
        "kind": kind,
        "vision_tokens": VISION_TOKENS_PER_PAGE,
        "width": width,
        "height": height,
        "url": _png(index, kind),
    }


def _question(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


@dataclass
class _Plan:
    """One request worked out up front: the rounds, their numbers and the final `vtc`."""

    rounds: list[list[str]]  # reasoning tokens per round
    answer_tokens: list[str]
    per_round: list[dict[str, Any]]
    pages: list[list[dict[str, Any]]]  # `vtc.page` objects per round
    vtc: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int


def _plan(question: str, vtc: dict[str, Any], reply: FakeReply) -> _Plan:
    mode = vtc.get("mode", "vtc")
    texts = reply.rounds if mode == "vtc" else [" ".join(reply.rounds)]
    max_rounds = int(vtc.get("max_rounds", 8))
    texts = texts[:max_rounds]
    finished = len(texts) == len(reply.rounds) or mode != "vtc"
    rounds = [_tokens(t) for t in texts]
    answer_tokens = ["</think>", *_tokens(reply.answer)] if finished else []
    per_round: list[dict[str, Any]] = []
    pages: list[list[dict[str, Any]]] = []
    page_index = 0
    prompt_tokens = len(_tokens(question)) + 10
    for i, toks in enumerate(rounds, start=1):
        last = i == len(rounds)
        n_pages = 0 if (last and finished) or mode != "vtc" else 1
        generated = len(toks) + (len(answer_tokens) if last else 0)
        vision = VISION_TOKENS_PER_PAGE * n_pages
        round_pages = []
        for _ in range(n_pages):
            page_index += 1
            round_pages.append(_page(i, page_index))
        pages.append(round_pages)
        per_round.append(
            {
                "round": i,
                "prompt_tokens": prompt_tokens + 2 * (page_index - n_pages),
                "cached_tokens": 0 if i == 1 else prompt_tokens,
                "generated_tokens": generated,
                "pages": n_pages,
                "vision_tokens": vision,
                "ttft_s": 0.001,
                "latency_s": 0.002,
                "render_s": 0.0005 if n_pages else 0.0,
                "gap_s": None if i == 1 else 0.0001,
            }
        )
    reasoning_tokens = sum(r["generated_tokens"] for r in per_round if r["pages"])
    vision_tokens = sum(r["vision_tokens"] for r in per_round)
    answer_text = "".join(answer_tokens[1:]) if finished else ""
    final = None
    if "<answer>" in answer_text and "</answer>" in answer_text:
        final = answer_text.split("<answer>")[-1].split("</answer>")[0].strip()
    summary: dict[str, Any] = {
        "mode": mode,
        "rounds": len(rounds),
        "finished": finished and final is not None,
        "pages": page_index,
        "reasoning_tokens": reasoning_tokens,
        "vision_tokens": vision_tokens,
        "compression_ratio": reasoning_tokens / vision_tokens if vision_tokens else None,
        "final_answer": final,
        "per_round": per_round,
    }
    if vtc.get("return_pages"):
        summary["page_images"] = [p["url"] for rp in pages for p in rp]
    return _Plan(
        rounds=rounds,
        answer_tokens=answer_tokens,
        per_round=per_round,
        pages=pages,
        vtc=summary,
        prompt_tokens=sum(r["prompt_tokens"] for r in per_round),
        completion_tokens=sum(r["generated_tokens"] for r in per_round),
    )


def _in_band_error() -> str:
    """What the real server sends when a stream fails after its first byte, then [DONE]."""
    error = {"message": "engine died mid-stream", "type": "server_error", "param": None}
    return f"data: {json.dumps({'error': {**error, 'code': None}})}\n\ndata: [DONE]\n\n"


def _error(status: int, message: str, kind: str = "server_error") -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"error": {"message": message, "type": kind, "param": None, "code": None}},
    )


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
        question = _question(body.get("messages", []))
        if "FAIL" in question:
            return _error(500, "scripted failure")
        if "SLOW" in question:
            await asyncio.sleep(3)
        vtc = dict(body.get("vtc") or {})
        unknown = sorted(set(vtc) - VTC_FIELDS)
        if unknown:
            return _error(
                400, f"vtc.{unknown[0]}: extra inputs are not permitted", "invalid_request_error"
            )
        plan = _plan(question, vtc, state.responder(question, vtc))
        rid = f"chatcmpl-{len(state.requests)}"
        created = int(time.time())
        usage = {
            "prompt_tokens": plan.prompt_tokens,
            "completion_tokens": plan.completion_tokens,
            "total_tokens": plan.prompt_tokens + plan.completion_tokens,
        }
        answer = "".join(plan.answer_tokens[1:])
        reasoning = "".join(t for r in plan.rounds for t in r)
        if not body.get("stream"):
            message = {
                "role": "assistant",
                "content": answer,
                "reasoning_content": reasoning,
                "reasoning": reasoning,
            }
            return {
                "id": rid,
                "object": "chat.completion",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": usage,
                "vtc": plan.vtc,
            }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any] | None, **extra: Any) -> str:
            choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": None}]
            payload = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(payload)}\n\n"

        await state.enter()

        async def events() -> AsyncIterator[str]:
            try:
                async for event in _events():
                    yield event
            finally:
                state.leave()

        async def _events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            if "BREAK" in question:  # an error after the first byte goes in-band
                yield chunk({"reasoning_content": "partial ", "reasoning": "partial "})
                yield _in_band_error()
                return
            for i, toks in enumerate(plan.rounds):
                half = len(toks) // 2
                for tok in toks[:half]:
                    yield chunk({"reasoning_content": tok, "reasoning": tok})
                if vtc.get("stream_pages"):  # released mid-round, before the round ends
                    for page in plan.pages[i]:
                        yield chunk(None, vtc={"page": page})
                for tok in toks[half:]:
                    yield chunk({"reasoning_content": tok, "reasoning": tok})
                marker = dict(plan.per_round[i])
                if vtc.get("return_pages"):
                    marker["page_images"] = [p["url"] for p in plan.pages[i]]
                yield chunk(None, vtc=marker)
                if "CRASH" in question:
                    yield _in_band_error()
                    return
            for tok in plan.answer_tokens[1:]:
                yield chunk({"content": tok})
            final = {
                "id": rid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                "vtc": plan.vtc,
            }
            yield f"data: {json.dumps(final)}\n\n"
            if include_usage:
                yield chunk(None, usage=usage)
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

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
