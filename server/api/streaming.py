"""Server-sent events for a streamed completion.

Order: a role chunk, reasoning deltas as generated, a `vtc` progress marker after every round,
answer deltas, a final chunk with `finish_reason` and the whole `vtc` object, the usage chunk
when asked, then `[DONE]`. An error after the first byte is sent in-band as an OpenAI error
object, followed by `[DONE]`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from server.api.payloads import Envelope, usage, vtc_object
from server.errors import InternalError, VtcError
from server.loop.events import AnswerDelta, LoopEvent, LoopResult, ReasoningDelta, RoundFinished

log = logging.getLogger("vtcr1.api")
DONE = b"data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


async def stream_events(
    first: LoopEvent,
    events: AsyncGenerator[LoopEvent, None],
    envelope: Envelope,
    *,
    include_usage: bool,
    return_pages: bool,
) -> AsyncIterator[bytes]:
    async with aclosing(events):
        yield sse(envelope.chunk({"role": "assistant", "content": ""}))
        try:
            event: LoopEvent | None = first
            while event is not None:
                for payload in _payloads(event, envelope, include_usage, return_pages):
                    yield sse(payload)
                event = await anext(events, None)
        except VtcError as exc:
            yield sse(exc.body())
        except Exception:
            log.exception("stream failed")
            yield sse(InternalError("internal error while streaming").body())
        yield DONE


def _payloads(
    event: LoopEvent, envelope: Envelope, include_usage: bool, return_pages: bool
) -> list[dict[str, Any]]:
    if isinstance(event, ReasoningDelta):
        return [envelope.reasoning_chunk(event.text)]
    if isinstance(event, AnswerDelta):
        return [envelope.chunk({"content": event.text})]
    if isinstance(event, RoundFinished):
        return [envelope.round_chunk(event.stats, event.pages, return_pages=return_pages)]
    assert isinstance(event, LoopResult)
    final = envelope.chunk(
        {},
        finish_reason=event.finish_reason,
        # Pages went out with their rounds' markers; the final object does not repeat them.
        vtc=vtc_object(event, return_pages=False),
    )
    return [final, envelope.chunk(None, usage=usage(event))] if include_usage else [final]
