"""Server-sent events of a streamed response (named events, increasing `sequence_number`).

An error after the first byte is sent in-band as an `error` event, which ends the stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from server.api.feed import Source
from server.api.responses.wire import ResponsesWire
from server.api.sse_stream import stream_items


def stream_response(items: Source, wire: ResponsesWire) -> AsyncIterator[bytes]:
    return stream_items(items, wire.encode, opening=wire.start(), error=wire.error)
