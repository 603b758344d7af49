"""Waiting for a condition, with a deadline: the tests' one way to wait for something that has
no event to await (a request finishing on the server's loop or in another thread or process).

The predicate is checked, not assumed: the wait ends the moment it holds and fails loudly,
naming what it waited for, if it never does. The poll interval only bounds how late the wait
notices (use a longer one when the check itself costs, e.g. an HTTP request); it is never what
makes the test pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Callable

import httpx

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


def wait_for_url(
    url: str,
    proc: subprocess.Popen[bytes] | None,
    *,
    timeout_s: float,
    what: str,
    details: Callable[[], str] = lambda: "",
    poll_s: float = 0.25,
) -> None:
    """Until `url` answers 200, for a server started as `proc`: fails at once if `proc`
    exits, and at the deadline; both errors name `what` and add `details()` (e.g. a log)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5.0) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}: {details()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: no 200 from {url} in {timeout_s:.0f} s: {details()}")
            time.sleep(poll_s)  # poll interval (each check is an HTTP request)
