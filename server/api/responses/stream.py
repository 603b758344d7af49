"""Server-sent events of a streamed response (named events, increasing `sequence_number`).

An error after the first byte is sent in-band as an `error` event, which ends the stream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from server.api.feed import LoopFeed, ReadyPage
from server.api.responses.wire import ResponsesWire
from server.errors import InternalError, VtcError
from server.loop.events import AnswerDelta, LoopResult, ReasoningDelta, RoundFinished

log = logging.getLogger("vtcr1.api")


async def stream_response(feed: LoopFeed, wire: ResponsesWire) -> AsyncIterator[bytes]:
    try:
        for data in wire.start():
            yield data
        try:
            while (item := await feed.next()) is not None:
                if isinstance(item, ReasoningDelta):
                    for data in wire.reasoning_delta(item.text):
                        yield data
                elif isinstance(item, ReadyPage):
                    yield wire.page(item.event, item.png)
                elif isinstance(item, RoundFinished):
                    for data in wire.round_end(item):
                        yield data
                elif isinstance(item, AnswerDelta):
                    for data in wire.answer(item.text):
                        yield data
                elif isinstance(item, LoopResult):
                    yield wire.completed(item)
        except VtcError as exc:
            yield wire.error(exc)
        except Exception:
            log.exception("stream failed")
            yield wire.error(InternalError("internal error while streaming"))
    finally:
        await feed.aclose()
