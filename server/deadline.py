"""The per-request deadline: a bound on a request's wall time over all its rounds.

Why per event and not one `asyncio.timeout` around the whole request: the loop is an async
generator consumed by the HTTP layer, so between events the time is spent in the consumer's
task (sending bytes). Timing each `anext` against one absolute deadline cancels only the loop's
own work; the cancellation runs the loop's cleanup, which closes (and so aborts) the engine
request, and the caller gets `DeadlineExceeded` (504 before the first byte, in-band after).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import TypeVar

from server.errors import DeadlineExceeded

T = TypeVar("T")


async def within_deadline(
    events: AsyncGenerator[T, None], timeout_s: float
) -> AsyncGenerator[T, None]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with aclosing(events):
        while True:
            timer = asyncio.timeout_at(deadline)
            try:
                async with timer:
                    event = await anext(events)
            except StopAsyncIteration:
                return
            except TimeoutError:
                if not timer.expired():
                    raise  # the loop's own TimeoutError, not our deadline
                raise DeadlineExceeded(
                    f"the request ran out of time ({timeout_s:g} s over all rounds)"
                ) from None
            yield event
