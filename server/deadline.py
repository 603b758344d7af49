"""The per-request deadline: a bound on a request's wall time over all its rounds.

Why not one `asyncio.timeout` around the whole request: the loop is an async generator consumed
by the HTTP layer, so between events the time is spent in the consumer's task (sending bytes).
Only the loop's own work may be cancelled: the cancellation runs the loop's cleanup, which
closes (and so aborts) the engine request, and the caller gets `DeadlineExceeded` (504 before
the first byte, in-band after).

Why not an `asyncio.timeout_at` per event either: that is a timer armed and disarmed for every
token (~6 us each, 40% of the gateway's own per-token work). Here one timer is armed for the
whole request. When it fires while the consumer waits for the next event, it cancels that wait
(the `asyncio.timeout` technique: cancel, then `uncancel` and translate); when it fires while
the consumer is busy elsewhere, the next wait fails at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TypeVar

from server.errors import DeadlineExceeded

T = TypeVar("T")


class _Deadline:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.expired = False
        self.waiting: asyncio.Task[object] | None = None  # the task inside `anext`, if any
        self.cancelled: asyncio.Task[object] | None = None  # the task we cancelled

    def fire(self) -> None:
        self.expired = True
        if self.waiting is not None:
            self.cancelled = self.waiting
            self.waiting.cancel()

    def error(self) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"the request ran out of time ({self.timeout_s:g} s over all rounds)"
        )


async def within_deadline(
    events: AsyncGenerator[T, None], timeout_s: float
) -> AsyncGenerator[T, None]:
    loop = asyncio.get_running_loop()
    deadline = _Deadline(timeout_s)
    timer = loop.call_at(loop.time() + timeout_s, deadline.fire)
    try:
        async with aclosing(events):
            while True:
                if deadline.expired:
                    raise deadline.error()
                task = asyncio.current_task()
                assert task is not None
                cancelling = task.cancelling()
                deadline.waiting = task
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    # Ours only if we cancelled this task and nobody else did as well.
                    if deadline.cancelled is task and task.uncancel() <= cancelling:
                        raise deadline.error() from None
                    raise
                finally:
                    deadline.waiting = None
                if deadline.cancelled is task:
                    # Fired, but the loop swallowed the cancellation: undo it, fail below.
                    task.uncancel()
                    deadline.cancelled = None
                yield event
    finally:
        timer.cancel()
