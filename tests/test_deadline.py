"""The per-request deadline (server/deadline.py): one timer per request, not one per event.

Timeouts of 0 s make the timer due at the next event-loop iteration, so these tests step the
loop instead of waiting for wall time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from server.deadline import within_deadline
from server.errors import DeadlineExceeded


class Source:
    """An event source that records whether it was closed (as the loop's cleanup aborts the
    engine request)."""

    def __init__(self, ready: int, stall: asyncio.Event | None = None) -> None:
        self.ready = ready
        self.stall = stall or asyncio.Event()
        self.stalled = asyncio.Event()  # set once the source waits on `stall`
        self.closed = False

    async def events(self) -> AsyncGenerator[int, None]:
        try:
            for i in range(self.ready):
                yield i
            self.stalled.set()
            await self.stall.wait()
            yield -1
        finally:
            self.closed = True


async def test_fires_while_the_consumer_waits_for_the_next_event() -> None:
    source = Source(ready=1)
    events = within_deadline(source.events(), 0.0)
    with pytest.raises(DeadlineExceeded, match="ran out of time"):
        async for _ in events:
            pass
    assert source.closed
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # our cancellation was taken back


async def test_fires_while_the_consumer_is_busy_elsewhere() -> None:
    source = Source(ready=3)
    events = within_deadline(source.events(), 0.0)
    assert await anext(events) == 0
    for _ in range(3):
        await asyncio.sleep(0)  # the consumer sends bytes; the due timer runs meanwhile
    with pytest.raises(DeadlineExceeded):
        await anext(events)
    assert source.closed


async def test_an_outside_cancellation_is_not_taken_for_the_deadline() -> None:
    source = Source(ready=0)

    async def consume() -> None:
        async for _ in within_deadline(source.events(), 3600.0):
            pass

    task = asyncio.create_task(consume())
    await source.stalled.wait()  # the consumer is waiting for the next event
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.closed


async def test_the_sources_own_timeout_error_passes_through() -> None:
    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        raise TimeoutError("an engine read timed out")

    with pytest.raises(TimeoutError, match="engine read"):
        async for _ in within_deadline(failing(), 3600.0):
            pass


async def test_in_time_the_events_pass_unchanged() -> None:
    source = Source(ready=4)
    source.stall.set()
    assert [e async for e in within_deadline(source.events(), 3600.0)] == [0, 1, 2, 3, -1]
