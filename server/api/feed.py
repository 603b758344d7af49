"""The loop's events as a stream sends them: with `stream_pages`, each page goes out once its
PNG is encoded (in a worker thread: `server/api/page_pump.py`), between the loop's events,
without making any event wait for an encoding.

While no page is being encoded (nearly always), `next` is a plain `anext` on the loop. While one
is, the wait for the loop's next event runs as a task raced against the encoding, so a page
released at the end of a round goes out at once, not with the next round's first token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from server.api.page_pump import PagePump
from server.loop.events import LoopEvent, LoopResult, PageRendered, RoundFinished


@dataclass(frozen=True)
class ReadyPage:
    event: PageRendered
    png: bytes


FeedItem = LoopEvent | ReadyPage
_PAGE_READY = object()  # the race ended with a page encoded, not with an event


@dataclass(frozen=True)
class Source:
    """What a stream sends: its first item (already awaited before the response started), the
    rest, and how to stop it early."""

    first: FeedItem | None
    rest: AsyncIterator[FeedItem]
    close: Callable[[], Awaitable[None]]


def source(
    first: LoopEvent, events: AsyncGenerator[LoopEvent, None], *, stream_pages: bool
) -> Source:
    """Without `stream_pages` the loop's own events go straight to the wire (its page events
    encode to nothing): no layer between them on the per-token path."""
    if not stream_pages:
        return Source(first, events, events.aclose)
    feed = LoopFeed(first, events, stream_pages=True)
    return Source(None, feed, feed.aclose)


class LoopFeed:
    def __init__(
        self, first: LoopEvent, events: AsyncGenerator[LoopEvent, None], *, stream_pages: bool
    ) -> None:
        self._events = events
        self._pump = PagePump() if stream_pages else None
        self._queue: deque[FeedItem] = deque()
        self._first: LoopEvent | None = first
        self._waiting: asyncio.Future[LoopEvent | None] | None = None
        self._ended = False
        self._input_pending = False
        self._round_ending = False

    def __aiter__(self) -> LoopFeed:
        return self

    async def __anext__(self) -> FeedItem:
        item = await self.next()
        if item is None:
            raise StopAsyncIteration
        return item

    async def next(self) -> FeedItem | None:
        """The next item to send, or None at the end."""
        while not self._queue:
            if self._ended:
                return None
            pump = self._pump
            if pump is not None:
                self._queue.extend(_ready(e) for e in pump.ready())
                if self._queue:
                    break
            event = await self._next_event(pump)
            if event is not _PAGE_READY:
                await self._accept(event)  # type: ignore[arg-type]
        return self._queue.popleft()

    async def _accept(self, event: LoopEvent | None) -> None:
        pump = self._pump
        if isinstance(event, PageRendered):
            if pump is not None:
                pump.add(event)
                self._input_pending |= event.kind == "input"
                self._round_ending |= event.at_round_end
            return
        if isinstance(event, RoundFinished):
            self._round_ending = False
        if pump is not None and self._input_pending:
            # Input pages go out before anything of round 1 (they were made before it).
            self._queue.extend(_ready(e) for e in await pump.drain())
            self._input_pending = False
        if event is None or isinstance(event, LoopResult):
            self._ended = event is None
            if pump is not None:
                # Every page before the final chunk (few, and started long ago).
                self._queue.extend(_ready(e) for e in await pump.drain())
        if event is not None:
            self._queue.append(event)

    async def _next_event(self, pump: PagePump | None) -> LoopEvent | object | None:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        if pump is not None and pump.pending and not self._round_ending:
            # (Pages of a round's end wait until its marker is out: the race below then puts
            # the next round's submission before their encoding.)
            return await self._race(pump)
        if self._waiting is not None:
            waiting, self._waiting = self._waiting, None
            return await waiting
        return await anext(self._events, None)

    async def _race(self, pump: PagePump) -> LoopEvent | object | None:
        if self._waiting is None:
            self._waiting = asyncio.ensure_future(anext(self._events, None))
        # Made after the loop's task, so it runs after the loop's next step (the pump's
        # docstring says why).
        encoded = asyncio.ensure_future(pump.next_done())
        racers: set[asyncio.Future[object]] = {self._waiting, encoded}  # type: ignore[arg-type]
        try:
            await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
        finally:
            encoded.cancel()
        if not self._waiting.done():
            return _PAGE_READY
        waiting, self._waiting = self._waiting, None
        return waiting.result()

    async def aclose(self) -> None:
        """Stop: a pending wait for the loop is cancelled before the loop is closed (a
        generator cannot be closed while another task runs it)."""
        waiting, self._waiting = self._waiting, None
        if waiting is not None and not waiting.done():
            waiting.cancel()
            with contextlib.suppress(BaseException):
                await waiting
        await self._events.aclose()


def _ready(event: PageRendered) -> ReadyPage:
    return ReadyPage(event, event.page.png)
