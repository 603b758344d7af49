"""Pages on their way to a stream: encoded in worker threads, sent in order once encoded.

PNG encoding takes a few milliseconds a page; done inline, it would hold back the tokens behind
it and, for the pages released at a round's end, the next round. Here each page starts encoding
the moment the loop releases it and the stream sends it as soon as it is done, between tokens,
never making a token wait.
"""

from __future__ import annotations

import asyncio
from collections import deque

from server.loop.events import PageRendered


class PagePump:
    def __init__(self) -> None:
        self._pending: deque[PageRendered] = deque()

    def add(self, event: PageRendered) -> None:
        event.page.encode_soon()
        self._pending.append(event)

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def ready(self) -> list[PageRendered]:
        """The pages, in order, whose encoding is done (stops at the first that is not)."""
        out: list[PageRendered] = []
        while self._pending and self._pending[0].page.is_encoded:
            out.append(self._pending.popleft())
        return out

    async def next_done(self) -> None:
        """Wait until the oldest pending page is encoded."""
        if self._pending:
            await self._pending[0].page.encoded()

    async def drain(self) -> list[PageRendered]:
        """Every pending page, encoded (at the end of the stream)."""
        await asyncio.gather(*(event.page.encoded() for event in self._pending))
        return self.ready()
