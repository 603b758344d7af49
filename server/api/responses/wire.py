"""What one response sends: the `response` object, or its named stream events.

The stream opens a `reasoning` item at a round's first reasoning text and closes it when the
round ends (so one item per round, as in the non-streamed object), then the `message` item with
the answer; every event carries the next `sequence_number`. Our own `response.vtc.round` and
`response.vtc.page` events ride between them, for clients that sent a `vtc` object (the Node
SDK's stream helper refuses event types it does not know). The stream always ends with
`response.completed` whose response says `completed` or `incomplete` (as vLLM does; the SDK's
`responses.stream()` helper needs that event to give a final response).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel

from server.api.encode import Template, marker, sse_event
from server.api.feed import FeedItem, ReadyPage
from server.api.protocol.responses import (
    ContentPartEvent,
    ErrorEvent,
    IncompleteDetails,
    InputTokensDetails,
    MessageItem,
    OutputItemEvent,
    OutputText,
    OutputTextDeltaEvent,
    OutputTextDoneEvent,
    OutputTokensDetails,
    ReasoningConfig,
    ReasoningItem,
    ReasoningText,
    ReasoningTextDeltaEvent,
    ReasoningTextDoneEvent,
    ResponseLifecycleEvent,
    ResponseObject,
    ResponsesRequest,
    ResponseUsage,
    VtcPageEvent,
    VtcRoundEvent,
)
from server.api.protocol.vtc import VtcPageEnvelope
from server.api.vtc_payloads import vtc_page, vtc_round, vtc_summary
from server.errors import VtcError
from server.loop.events import AnswerDelta, LoopResult, PageRendered, ReasoningDelta, RoundFinished
from server.loop.request import LoopRequest

PartEvent = Literal["response.content_part.added", "response.content_part.done"]


def _item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage(result: LoopResult) -> ResponseUsage:
    return ResponseUsage(
        input_tokens=result.prompt_tokens,
        input_tokens_details=InputTokensDetails(
            cached_tokens=sum(r.cached_tokens for r in result.rounds)
        ),
        output_tokens=result.completion_tokens,
        output_tokens_details=OutputTokensDetails(
            reasoning_tokens=result.completion_tokens - result.answer_tokens
        ),
        total_tokens=result.prompt_tokens + result.completion_tokens,
    )


class ResponsesWire:
    def __init__(
        self,
        body: ResponsesRequest,
        loop_request: LoopRequest,
        model: str,
        clean: Callable[[str], str],
        *,
        return_pages: bool = False,
    ) -> None:
        self.clean = clean
        self.return_pages = return_pages
        # Our own events only for clients that speak the extension (they sent a `vtc` object):
        # the official Node SDK's `responses.stream()` throws on an event type it does not know.
        self.vtc_events = body.vtc is not None
        self._seq = 0
        self._index = 0  # output index of the item being streamed
        self._item: str | None = None  # id of the open reasoning item
        self._text: list[str] = []  # its text so far
        self._done: list[ReasoningItem | MessageItem] = []  # the items streamed so far
        self.base = ResponseObject(
            id=loop_request.request_id,
            created_at=int(time.time()),
            status="in_progress",
            model=model,
            instructions=body.instructions,
            max_output_tokens=body.max_output_tokens,
            temperature=loop_request.sampling.temperature,
            top_p=loop_request.sampling.top_p,
            reasoning=ReasoningConfig(
                effort=body.reasoning.effort if body.reasoning else None,
                summary=body.reasoning.summary if body.reasoning else None,
            ),
            metadata=body.metadata or {},
            user=body.user,
        )
        # Integer slots hold markers: built without validation, dumped without warnings.
        delta = ReasoningTextDeltaEvent.model_construct(
            sequence_number=marker(0),  # type: ignore[arg-type]
            item_id=marker(1),
            output_index=marker(2),  # type: ignore[arg-type]
            delta=marker(3),
        )
        self._delta = Template(
            delta, 4, prefix=b"event: response.reasoning_text.delta\ndata: ", suffix=b"\n\n"
        )

    # --- non-streamed ---

    def response(self, result: LoopResult) -> ResponseObject:
        output: list[ReasoningItem | MessageItem] = [
            ReasoningItem(
                id=_item_id("rs"),
                status="completed",
                content=[ReasoningText(text=self.clean(text))],
            )
            for text in result.round_reasoning
        ]
        answer = self.clean(result.answer)
        if answer:
            message = MessageItem(
                id=_item_id("msg"), status="completed", content=[OutputText(text=answer)]
            )
            output.append(message)
        incomplete = result.finish_reason == "length"
        return self.base.model_copy(
            update={
                "status": "incomplete" if incomplete else "completed",
                "incomplete_details": IncompleteDetails(reason="max_output_tokens")
                if incomplete
                else None,
                "completed_at": int(time.time()),
                "output": output,
                "output_text": answer,
                "usage": usage(result),
                "vtc": vtc_summary(result, return_pages=self.return_pages),
            }
        )

    # --- streamed ---

    def encode(self, item: FeedItem) -> Sequence[bytes]:
        """The events of one item of the stream (in order of how often they come)."""
        match item:
            case ReasoningDelta():
                return self.reasoning_delta(item.text)
            case ReadyPage():
                return (self.page(item.event, item.png),)
            case RoundFinished():
                return self.round_end(item)
            case AnswerDelta():
                return self.answer(item.text)
            case LoopResult():
                return (self.completed(item),)
        return ()

    def _event(self, model: BaseModel) -> bytes:
        name = str(getattr(model, "type"))  # noqa: B009 (every event model has its type)
        return sse_event(name, model)

    def _next(self) -> int:
        self._seq += 1
        return self._seq - 1

    def start(self) -> list[bytes]:
        created = ResponseLifecycleEvent(
            type="response.created", sequence_number=self._next(), response=self.base
        )
        progress = ResponseLifecycleEvent(
            type="response.in_progress", sequence_number=self._next(), response=self.base
        )
        return [self._event(created), self._event(progress)]

    def reasoning_delta(self, text: str) -> list[bytes]:
        text = self.clean(text)
        if not text:
            return []
        out = [] if self._item is not None else self._open_reasoning()
        assert self._item is not None
        self._text.append(text)
        out.append(self._delta.render((self._next(), self._item, self._index, text)))
        return out

    def _open_reasoning(self) -> list[bytes]:
        self._item, self._text = _item_id("rs"), []
        item = ReasoningItem(id=self._item, status="in_progress")
        part = ReasoningText(text="")
        return [
            self._event(
                OutputItemEvent(
                    type="response.output_item.added",
                    sequence_number=self._next(),
                    output_index=self._index,
                    item=item,
                )
            ),
            self._part("response.content_part.added", self._item, part),
        ]

    def _part(self, kind: PartEvent, item_id: str, part: ReasoningText | OutputText) -> bytes:
        event = ContentPartEvent(
            type=kind,
            sequence_number=self._next(),
            item_id=item_id,
            output_index=self._index,
            content_index=0,
            part=part,
        )
        return self._event(event)

    def round_end(self, event: RoundFinished) -> list[bytes]:
        """Close the round's reasoning item (one per round, even an empty one), then our
        round marker."""
        out = [] if self._item is not None else self._open_reasoning()
        assert self._item is not None
        text = "".join(self._text)
        part = ReasoningText(text=text)
        out.append(
            self._event(
                ReasoningTextDoneEvent(
                    sequence_number=self._next(),
                    item_id=self._item,
                    output_index=self._index,
                    text=text,
                )
            )
        )
        out.append(self._part("response.content_part.done", self._item, part))
        item = ReasoningItem(id=self._item, status="completed", content=[part])
        out.append(self._item_done(item))
        self._item = None
        self._index += 1
        if self.vtc_events:
            pages = event.pages if self.return_pages else None
            marker_ = VtcRoundEvent(sequence_number=self._next(), vtc=vtc_round(event.stats, pages))
            out.append(self._event(marker_))
        return out

    def _item_done(self, item: ReasoningItem | MessageItem) -> bytes:
        self._done.append(item)
        return self._event(
            OutputItemEvent(
                type="response.output_item.done",
                sequence_number=self._next(),
                output_index=self._index,
                item=item,
            )
        )

    def page(self, event: PageRendered, png: bytes) -> bytes:
        envelope = VtcPageEnvelope(page=vtc_page(event, png))
        return self._event(VtcPageEvent(sequence_number=self._next(), vtc=envelope))

    def answer(self, text: str) -> list[bytes]:
        text = self.clean(text)
        if not text:
            return []
        item_id = _item_id("msg")
        part = OutputText(text=text)
        added = MessageItem(id=item_id, status="in_progress")
        done = MessageItem(id=item_id, status="completed", content=[part])
        out = [
            self._event(
                OutputItemEvent(
                    type="response.output_item.added",
                    sequence_number=self._next(),
                    output_index=self._index,
                    item=added,
                )
            ),
            self._part("response.content_part.added", item_id, OutputText(text="")),
            self._event(
                OutputTextDeltaEvent(
                    sequence_number=self._next(),
                    item_id=item_id,
                    output_index=self._index,
                    delta=text,
                )
            ),
            self._event(
                OutputTextDoneEvent(
                    sequence_number=self._next(),
                    item_id=item_id,
                    output_index=self._index,
                    text=text,
                )
            ),
            self._part("response.content_part.done", item_id, part),
            self._item_done(done),
        ]
        self._index += 1
        return out

    def completed(self, result: LoopResult) -> bytes:
        # The output is the items as they were streamed (same ids, same text).
        response = self.response(result).model_copy(update={"output": list(self._done)})
        event = ResponseLifecycleEvent(
            type="response.completed", sequence_number=self._next(), response=response
        )
        return self._event(event)

    def error(self, exc: VtcError) -> bytes:
        event = ErrorEvent(
            sequence_number=self._next(), code=exc.code, message=exc.message, param=exc.param
        )
        return self._event(event)
