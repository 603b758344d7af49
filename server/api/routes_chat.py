"""`POST /v1/chat/completions`: validate, translate, run the loop, answer (JSON or SSE).

Errors found before the first byte — bad input, unknown model, an engine that refuses the first
round — are status codes. The stream is primed with the loop's first event before the response
starts for exactly that reason.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable
from contextlib import aclosing
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from server.api.payloads import Envelope
from server.api.schemas import ChatCompletionRequest
from server.api.state import State
from server.api.streaming import stream_events
from server.api.strict_json import StrictJSONRoute
from server.api.translate import (
    check_caps,
    check_model,
    image_urls,
    refuse_unsupported,
    to_loop_request,
)
from server.errors import InternalError, VtcError
from server.loop.events import LoopEvent, LoopResult

# Strict JSON (no NaN, no lone surrogates, bounded depth); no content type is taken as JSON.
router = APIRouter(route_class=StrictJSONRoute, strict_content_type=False)
T = TypeVar("T")


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, state: State
) -> JSONResponse | StreamingResponse:
    mode = (body.vtc and body.vtc.mode) or "vtc"
    try:
        service = state.require_service()
        check_model(body, (state.model_name,))
        refuse_unsupported(body)
        check_caps(body, state.settings)
        sources = await _until_disconnect(request, state.image_sources.load(list(image_urls(body))))
        loop_request = to_loop_request(
            body, state.settings, f"chatcmpl-{uuid.uuid4().hex}", sources
        )
    except VtcError:
        state.metrics.requests.labels(state.model_name, mode, "rejected").inc()
        raise
    envelope = Envelope.new(
        loop_request.request_id, state.model_name, state.settings.reasoning_fields
    )
    return_pages = bool(body.vtc and body.vtc.return_pages)
    events = service.run(loop_request)

    if body.stream:
        try:
            first = await _until_disconnect(request, anext(events))
        except BaseException:
            await events.aclose()
            raise
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            stream_events(
                first, events, envelope, include_usage=include_usage, return_pages=return_pages
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    result = await _until_disconnect(request, _last(events))
    return JSONResponse(envelope.completion(result, return_pages=return_pages))


async def _last(events: AsyncGenerator[LoopEvent, None]) -> LoopResult:
    result: LoopEvent | None = None
    async with aclosing(events):
        async for event in events:
            result = event
    if not isinstance(result, LoopResult):
        raise InternalError("the loop ended without a result")
    return result


async def _until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run `work`, cancelling it if the client goes away first (which aborts the engine
    request through the loop's cleanup). Non-streaming handlers are not cancelled by the
    server on disconnect, so we watch for it ourselves."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.create_task(_wait_disconnect(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task not in done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise asyncio.CancelledError("client disconnected")
    return task.result()


async def _wait_disconnect(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
