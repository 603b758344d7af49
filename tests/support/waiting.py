"""Waiting for a condition, with a deadline: the tests' one way to wait for something that has
no event to await (a request finishing on the server's loop or in another thread or process).

The predicate is checked, not assumed: the wait ends the moment it holds and fails loudly,
naming what it waited for, if it never does. The poll interval only bounds how late the wait
notices (use a longer one when the check itself costs, e.g. an HTTP request); it is never what
makes the test pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

POLL_S = 0.005


async def eventually(
    predicate: Callable[[], bool],
    *,
    timeout_s: float = 10.0,
    what: str = "condition",
    poll_s: float = POLL_S,
) -> None:
    """Until `predicate()` holds, on an event loop (other tasks run meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(poll_s)


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout_s: float = 10.0,
    what: str = "condition",
    poll_s: float = POLL_S,
) -> None:
    """Until `predicate()` holds, blocking (for a server in another thread or process)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(poll_s)
