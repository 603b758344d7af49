"""Server-sent events of a streamed chat completion.

Order: a role chunk, reasoning deltas as generated, pages as they are encoded
(`stream_pages`), a `vtc` progress marker after every round, answer deltas, a final chunk with
`finish_reason` and the whole `vtc` object, the usage chunk when asked, then `[DONE]`. An
error after the first byte is sent in-band as an OpenAI error object, followed by `[DONE]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from server.api.chat.wire import DONE, ChatWire
from server.api.encode import sse
from server.api.feed import Source
from server.api.sse_stream import stream_items


def stream_chat(items: Source, wire: ChatWire) -> AsyncIterator[bytes]:
    return stream_items(
        items,
        wire.encode,
        opening=(wire.role(),),
        error=lambda exc: sse(exc.body()),
        closing=(DONE,),
    )
