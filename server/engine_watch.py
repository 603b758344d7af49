"""Noticing that the engine is dead, so the process can fail `/ready` and exit non-zero.

An in-process engine whose core died does not come back: every request would fail until the
orchestrator restarts the pod, so the fastest recovery is to stop. "Dead" is decided by the
engine itself: an `EngineError` with a true `fatal` attribute, or a health check that fails with
a non-retryable `EngineError` (the in-process vLLM engine's check fails that way when its core
is gone). A retryable failure — e.g. every remote replica down for now — only fails `/ready`;
the replicas may come back and restarting the gateway would not help them.

Checks run periodically, after a request fails with a non-retryable engine error, and on
`/ready`. Once dead, `on_dead(reason)` is called exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from server.engines.base import Engine, EngineError

log = logging.getLogger("vtcr1.engine_watch")
HEALTH_TIMEOUT_S = 10.0


def is_fatal(exc: BaseException) -> bool:
    return bool(getattr(exc, "fatal", False))


class EngineWatch:
    def __init__(
        self, engine: Engine, *, interval_s: float, on_dead: Callable[[str], None]
    ) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.on_dead = on_dead
        self.dead: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        if self.interval_s > 0:
            self._spawn(self._periodic())

    def report(self, exc: EngineError) -> None:
        """A request failed in the engine: dead at once if fatal, else check the engine."""
        if is_fatal(exc):
            self._die(str(exc))
        elif not exc.retryable:
            self._spawn(self._check_quietly())

    async def check(self) -> None:
        """Run one health check; raise its `EngineError` (after noting a death)."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                await self.engine.check_health()
        except TimeoutError:
            raise EngineError("the engine's health check timed out", retryable=True) from None
        except EngineError as exc:
            if is_fatal(exc) or not exc.retryable:
                self._die(f"health check failed: {exc}")
            raise

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _periodic(self) -> None:
        while self.dead is None:
            await asyncio.sleep(self.interval_s)
            await self._check_quietly()

    async def _check_quietly(self) -> None:
        with contextlib.suppress(EngineError):
            await self.check()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _die(self, reason: str) -> None:
        if self.dead is not None:
            return
        self.dead = reason
        log.critical("the engine is dead (%s): failing /ready and shutting down", reason)
        self.on_dead(reason)
