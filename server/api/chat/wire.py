"""What one chat completion sends: the `chat.completion` object, or its SSE chunks.

Built from the protocol models (`server/api/protocol/chat.py`). The per-token chunks
(reasoning and answer deltas) come from byte templates made once per response
(`server/api/encode.py`); everything else is a model, dumped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from server.api.encode import Template, marker, sse
from server.api.feed import FeedItem, ReadyPage
from server.api.protocol.chat import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    ChunkDelta,
    CompletionTokensDetails,
    PromptTokensDetails,
    Usage,
)
from server.api.protocol.vtc import VtcPageEnvelope
from server.api.vtc_payloads import vtc_page, vtc_round, vtc_summary
from server.loop.events import (
    AnswerDelta,
    LoopResult,
    PageRendered,
    ReasoningDelta,
    RoundFinished,
)
from server.settings import ReasoningFields

DONE = b"data: [DONE]\n\n"


def usage(result: LoopResult) -> Usage:
    return usage_of(
        result.prompt_tokens,
        result.completion_tokens,
        cached=sum(r.cached_tokens for r in result.rounds),
        reasoning=result.completion_tokens - result.answer_tokens,
    )


def usage_of(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> Usage:
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
    )


def reasoning_fields(text: str, which: ReasoningFields) -> dict[str, str]:
    if which == "both":
        return {"reasoning_content": text, "reasoning": text}
    return {which: text}


class ChatWire:
    """The objects of one response. `clean` is what clients see of the model's text
    (`server/api/text.py`); the loop's raw text goes in."""

    def __init__(
        self,
        request_id: str,
        model: str,
        reasoning: ReasoningFields,
        clean: Callable[[str], str],
        *,
        return_pages: bool = False,
        include_usage: bool = False,
        continuous_usage: bool = False,
    ) -> None:
        self.id = request_id
        self.model = model
        self.created = int(time.time())
        self.reasoning = reasoning
        self.clean = clean
        self.return_pages = return_pages
        self.include_usage = include_usage
        self.continuous_usage = include_usage and continuous_usage
        self._prompt = 0
        self._completion = 0
        self._reasoning_template = self._template(
            ChunkDelta(**reasoning_fields(marker(0), reasoning))
        )
        self._answer_template = self._template(ChunkDelta(content=marker(0)))

    # --- non-streamed ---

    def completion(self, result: LoopResult) -> ChatCompletion:
        message = AssistantMessage(
            content=self.clean(result.answer),
            **reasoning_fields(self.clean(result.reasoning), self.reasoning),
        )
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            choices=[Choice(message=message, finish_reason=result.finish_reason)],
            usage=usage(result),
            vtc=vtc_summary(result, return_pages=self.return_pages),
        )

    # --- streamed ---

    def encode(self, item: FeedItem) -> Sequence[bytes]:
        """The chunks of one item of the stream (in order of how often they come)."""
        match item:
            case ReasoningDelta():
                data = self.reasoning_delta(item)
                return (data,) if data else ()
            case ReadyPage():
                return (self.page(item.event, item.png),)
            case RoundFinished():
                return (self.round_marker(item),)
            case AnswerDelta():
                data = self.answer_delta(item.text)
                return (data,) if data else ()
            case LoopResult():
                return self.final(item)
        return ()

    def _chunk(self, choices: list[ChunkChoice], **extra: object) -> ChatCompletionChunk:
        if self.continuous_usage and "usage" not in extra:
            extra["usage"] = usage_of(self._prompt, self._completion)
        return ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=choices, **extra
        )

    def _template(self, delta: ChunkDelta) -> Template:
        chunk = ChatCompletionChunk(
            id=self.id, created=self.created, model=self.model, choices=[ChunkChoice(delta=delta)]
        )
        return Template(chunk, 1, prefix=b"data: ", suffix=b"\n\n")

    def role(self) -> bytes:
        return sse(self._chunk([ChunkChoice(delta=ChunkDelta(role="assistant", content=""))]))

    def reasoning_delta(self, event: ReasoningDelta) -> bytes:
        """The chunk, or b"" when nothing is left of the text to show."""
        text = self.clean(event.text)
        if not text:
            return b""
        if self.continuous_usage:
            self._prompt, self._completion = event.prompt_tokens, event.completion_tokens
            delta = ChunkDelta(**reasoning_fields(text, self.reasoning))
            return sse(self._chunk([ChunkChoice(delta=delta)]))
        return self._reasoning_template.render((text,))

    def answer_delta(self, text: str) -> bytes:
        text = self.clean(text)
        if not text:
            return b""
        if self.continuous_usage:
            return sse(self._chunk([ChunkChoice(delta=ChunkDelta(content=text))]))
        return self._answer_template.render((text,))

    def round_marker(self, event: RoundFinished) -> bytes:
        pages = event.pages if self.return_pages else None
        marker_ = vtc_round(event.stats, pages)
        return sse(self._chunk([ChunkChoice(delta=ChunkDelta())], vtc=marker_))

    def page(self, event: PageRendered, png: bytes) -> bytes:
        return sse(self._chunk([], vtc=VtcPageEnvelope(page=vtc_page(event, png))))

    def final(self, result: LoopResult) -> list[bytes]:
        """The chunk with `finish_reason` and the whole `vtc` object (its pages went out with
        their rounds), the usage chunk when asked, then `[DONE]` is the caller's."""
        self._prompt, self._completion = result.prompt_tokens, result.completion_tokens
        choice = ChunkChoice(delta=ChunkDelta(), finish_reason=result.finish_reason)
        out = [sse(self._chunk([choice], vtc=vtc_summary(result, return_pages=False)))]
        if self.include_usage:
            out.append(sse(self._chunk([], usage=usage(result))))
        return out
