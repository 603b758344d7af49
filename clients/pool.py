"""A closed loop of requests: a fixed pool of workers, each sending its next request only when
its last one has finished, as users waiting for their answers do.

`vtcr1 bench` measures at a concurrency level this way (exactly `c` requests in flight, never
more), and `vtcr1 eval` bounds the load it puts on a server with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def _always() -> bool:
    return True


async def closed_loop(
    items: Sequence[T],
    concurrency: int,
    handle: Callable[[int, T], Awaitable[None]],
    *,
    go_on: Callable[[], bool] = _always,
) -> None:
    """`handle(index, item)` for the items in order, at most `concurrency` at once.

    Each worker takes the next index when it is free; once `go_on()` is false (a deadline, an
    error budget) no worker takes another, and the items not taken are left undone.
    """
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < len(items) and go_on():
            index = next_index
            next_index += 1
            await handle(index, items[index])

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(items)))))
