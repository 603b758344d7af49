"""What both API routes do around the loop: watch for the client going away while nothing is
being sent, prime a stream with its first event, and collect a non-streamed result.

A stream is primed with the loop's first event before the response starts, so an early failure
(bad input found late, an engine that refuses the first round) is a real status code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import TypeVar

from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from server.api.feed import Source, source
from server.errors import InternalError
from server.loop.events import LoopEvent, LoopResult

T = TypeVar("T")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def respond(
    request: Request,
    events: AsyncGenerator[LoopEvent, None],
    *,
    stream: bool,
    stream_pages: bool,
    streamed: Callable[[Source], AsyncIterator[bytes]],
    complete: Callable[[LoopResult], BaseModel],
) -> Response:
    """The loop's events as SSE (`streamed` encodes them) or, at the end, one JSON object."""
    if stream:
        items = source(await first_event(request, events), events, stream_pages=stream_pages)
        return StreamingResponse(
            streamed(items), media_type="text/event-stream", headers=SSE_HEADERS
        )
    result = await until_disconnect(request, last_result(events))
    return Response(complete(result).model_dump_json(), media_type="application/json")


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
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


async def first_event(request: Request, events: AsyncGenerator[LoopEvent, None]) -> LoopEvent:
    """The loop's first event, before any byte is sent (the loop is closed if that fails)."""
    try:
        return await until_disconnect(request, anext(events))
    except BaseException:
        await events.aclose()
        raise


async def last_result(events: AsyncGenerator[LoopEvent, None]) -> LoopResult:
    result: LoopEvent | None = None
    async with aclosing(events):
        async for event in events:
            result = event
    if not isinstance(result, LoopResult):
        raise InternalError("the loop ended without a result")
    return result
