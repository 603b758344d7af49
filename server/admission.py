"""Admission control: at most N requests run, at most M wait, nobody waits forever.

Why here and not in the engine: a VTC request holds engine capacity for several rounds and the
renderer's CPU between them, so an unbounded number of accepted requests only turns overload into
timeouts for everyone. Past the bounds a request is refused at once with 429 and `Retry-After`
(before the first byte), which clients and load balancers know to back off from.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

from server.errors import Overloaded


class Admission:
    """A FIFO semaphore with a bounded queue and a queue timeout."""

    def __init__(self, max_running: int, max_queued: int, queue_timeout_s: float) -> None:
        self.max_running = max_running
        self.max_queued = max_queued
        self.queue_timeout_s = queue_timeout_s
        self.running = 0
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def _retry_after(self) -> dict[str, str]:
        # A slot frees when a request ends; seconds, not minutes, is the useful scale to retry.
        return {"Retry-After": str(max(1, math.ceil(min(self.queue_timeout_s, 5.0))))}

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a running slot for the body of the `async with`; raise `Overloaded` if none."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.running < self.max_running and not self._waiters:
            self.running += 1
            return
        if len(self._waiters) >= self.max_queued:
            raise Overloaded(
                f"the server is at capacity ({self.running} running, {self.queued} queued); "
                "retry later",
                headers=self._retry_after(),
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.queue_timeout_s):
                await waiter
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # the slot was handed over just as the timer fired: keep it
            raise Overloaded(
                f"no capacity freed up within {self.queue_timeout_s:g} s; retry later",
                headers=self._retry_after(),
            ) from None
        except BaseException:
            # Cancelled (client gone): if the slot was handed over just now, pass it on.
            if waiter.done() and not waiter.cancelled():
                self._release()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _release(self) -> None:
        """Hand the slot to the oldest waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: `running` is unchanged
                return
        self.running -= 1
