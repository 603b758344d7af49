"""Server-sent events of a streamed chat completion.

Order: a role chunk, reasoning deltas as generated, pages as they are encoded
(`stream_pages`), a `vtc` progress marker after every round, answer deltas, a final chunk with
`finish_reason` and the whole `vtc` object, the usage chunk when asked, then `[DONE]`. An
error after the first byte is sent in-band as an OpenAI error object, followed by `[DONE]`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from server.api.chat.wire import DONE, ChatWire
from server.api.encode import sse
from server.api.feed import LoopFeed, ReadyPage
from server.errors import InternalError, VtcError
from server.loop.events import AnswerDelta, LoopResult, ReasoningDelta, RoundFinished

log = logging.getLogger("vtcr1.api")


async def stream_chat(feed: LoopFeed, wire: ChatWire) -> AsyncIterator[bytes]:
    try:
        yield wire.role()
        try:
            while (item := await feed.next()) is not None:
                if isinstance(item, ReasoningDelta):
                    if data := wire.reasoning_delta(item):
                        yield data
                elif isinstance(item, AnswerDelta):
                    if data := wire.answer_delta(item.text):
                        yield data
                elif isinstance(item, ReadyPage):
                    yield wire.page(item.event, item.png)
                elif isinstance(item, RoundFinished):
                    yield wire.round_marker(item)
                elif isinstance(item, LoopResult):
                    for chunk in wire.final(item):
                        yield chunk
        except VtcError as exc:
            yield sse(exc.body())
        except Exception:
            log.exception("stream failed")
            yield sse(InternalError("internal error while streaming").body())
        yield DONE
    finally:
        await feed.aclose()
