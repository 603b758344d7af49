"""The loop of a streamed response, whatever its wire format: send the opening events, one
encoding per item the feed gives, and the closing ones; an error after the first byte goes
in-band (the headers are gone) and ends the stream. Each API supplies the encodings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable

from server.api.feed import FeedItem, Source
from server.errors import InternalError, VtcError

log = logging.getLogger("vtcr1.api")

Encode = Callable[[FeedItem], Iterable[bytes]]


async def stream_items(
    items: Source,
    encode: Encode,
    *,
    opening: Iterable[bytes],
    error: Callable[[VtcError], bytes],
    closing: Iterable[bytes] = (),
) -> AsyncIterator[bytes]:
    try:
        for data in opening:
            yield data
        try:
            if items.first is not None:
                for data in encode(items.first):
                    yield data
            async for item in items.rest:
                for data in encode(item):
                    yield data
        except VtcError as exc:
            yield error(exc)
        except Exception:
            log.exception("stream failed")
            yield error(InternalError("internal error while streaming"))
        for data in closing:
            yield data
    finally:
        await items.close()
