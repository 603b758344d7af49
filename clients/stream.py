"""One streamed chat completion, read to its end and folded into a plain `StreamResult`.

Everything VTC-specific is read defensively from the fields the SDK does not declare (`vtc`,
`reasoning_content`, ...): against a plain OpenAI-compatible server they are simply absent.
A VTC stream carries three kinds of `vtc` chunk besides the text deltas, told apart by their
keys: a page (`page`, with `vtc.stream_pages`: each page the moment the renderer releases it,
input pages of `vtc.compress_input` before round 1), a round marker (`round`, after each round)
and the final chunk's whole object (`mode`, `per_round`, ...).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from openai.types.chat.chat_completion_chunk import Choice


def extra_of(obj: Any) -> dict[str, Any]:
    """Fields the SDK's pydantic models do not declare (`vtc`, `reasoning_content`, ...)."""
    if obj is None:
        return {}
    extra = getattr(obj, "model_extra", None)
    return dict(extra) if isinstance(extra, Mapping) else {}


def vtc_of(obj: Any) -> dict[str, Any] | None:
    """The top-level `vtc` object of a response or chunk, None from a non-VTC server."""
    value = extra_of(obj).get("vtc")
    if value is None:
        value = getattr(obj, "vtc", None)
    return dict(value) if isinstance(value, Mapping) else None


def reasoning_of(delta_or_message: Any) -> str:
    """Reasoning text of a delta or message: `reasoning_content` (older vLLM, LiteLLM) or
    `reasoning` (current vLLM). The server may send both with the same text: take one."""
    extra = extra_of(delta_or_message)
    for name in ("reasoning_content", "reasoning"):
        value = extra.get(name)
        if value is None:
            value = getattr(delta_or_message, name, None)
        if isinstance(value, str) and value:
            return value
    return ""


def decode_data_url(url: str) -> bytes:
    """Bytes of a `data:image/png;base64,...` URL (a bare base64 string is accepted too)."""
    _, sep, payload = url.partition(",")
    return base64.b64decode(payload if sep else url)


@dataclass
class StreamResult:
    """Everything one streamed completion told us, plus client-side timings."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    ttft_s: float | None = None  # request sent -> first reasoning or answer text
    latency_s: float = 0.0  # request sent -> stream closed
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    vtc: dict[str, Any] | None = None  # the final `vtc` object
    per_round: list[dict[str, Any]] = field(default_factory=list)  # from the round markers
    # The `vtc.page` objects of the page chunks, in stream order (with `vtc.stream_pages`).
    pages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rounds(self) -> int | None:
        if self.vtc and isinstance(self.vtc.get("rounds"), int):
            return int(self.vtc["rounds"])
        return len(self.per_round) or None

    def vtc_number(self, name: str) -> float | None:
        value = (self.vtc or {}).get(name)
        return float(value) if isinstance(value, int | float) else None

    def record(self) -> dict[str, Any]:
        """Flat numbers for bench/eval records (no text)."""
        vtc = self.vtc or {}
        return {
            "latency_s": round(self.latency_s, 6),
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 6),
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "rounds": self.rounds,
            "finished": vtc.get("finished"),
            "pages": vtc.get("pages"),
            "reasoning_tokens": vtc.get("reasoning_tokens"),
            "vision_tokens": vtc.get("vision_tokens"),
            "compression_ratio": vtc.get("compression_ratio"),
        }


Callback = Callable[[str], None]
RoundCallback = Callable[[dict[str, Any]], None]
PageCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Watchers:
    """Who is told about the stream while it runs (`vtcr1 chat` prints; bench and eval wait)."""

    on_reasoning: Callback | None = None
    on_content: Callback | None = None
    on_round: RoundCallback | None = None
    on_page: PageCallback | None = None


class _Collector:
    """Folds the chunks of one stream into a `StreamResult`, telling the watchers as it goes."""

    def __init__(self, watchers: Watchers) -> None:
        self.watchers = watchers
        self.result = StreamResult()
        self.start = time.perf_counter()
        self.reasoning: list[str] = []
        self.content: list[str] = []

    def chunk(self, chunk: ChatCompletionChunk) -> None:
        marker = vtc_of(chunk)
        if marker is not None:
            self._vtc(marker)
        if chunk.usage is not None:
            self.result.prompt_tokens = chunk.usage.prompt_tokens
            self.result.completion_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.index == 0:
                self._choice(choice)

    def _vtc(self, marker: dict[str, Any]) -> None:
        page = marker.get("page")
        if isinstance(page, Mapping):
            self.result.pages.append(dict(page))
            if self.watchers.on_page is not None:
                self.watchers.on_page(dict(page))
        elif "per_round" in marker or "mode" in marker:
            self.result.vtc = marker
        elif "round" in marker:
            self.result.per_round.append(marker)
            if self.watchers.on_round is not None:
                self.watchers.on_round(marker)

    def _choice(self, choice: Choice) -> None:
        self._text(reasoning_of(choice.delta), self.reasoning, self.watchers.on_reasoning)
        self._text(choice.delta.content, self.content, self.watchers.on_content)
        if choice.finish_reason is not None:
            self.result.finish_reason = choice.finish_reason

    def _text(self, text: str | None, parts: list[str], callback: Callback | None) -> None:
        if not text:
            return
        if self.result.ttft_s is None:
            self.result.ttft_s = time.perf_counter() - self.start
        parts.append(text)
        if callback is not None:
            callback(text)

    def finish(self) -> StreamResult:
        self.result.latency_s = time.perf_counter() - self.start
        self.result.reasoning = "".join(self.reasoning)
        self.result.content = "".join(self.content)
        return self.result


def _given(value: Any) -> Any:
    # Unset knobs are left out of the request (the server's defaults apply), not sent as null.
    return openai.omit if value is None else value


async def stream_chat(
    client: openai.AsyncOpenAI,
    *,
    model: str,
    messages: list[dict[str, Any]],
    vtc: Mapping[str, Any] | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    seed: int | None = None,
    on_reasoning: Callback | None = None,
    on_content: Callback | None = None,
    on_round: RoundCallback | None = None,
    on_page: PageCallback | None = None,
) -> StreamResult:
    """Stream one chat completion to its end and collect it.

    Streaming rather than a single response: the server keeps the connection busy during long
    multi-round requests (no idle proxy timeouts), and it is the only way to measure TTFT.
    """
    collector = _Collector(Watchers(on_reasoning, on_content, on_round, on_page))
    stream = await client.chat.completions.create(
        model=model,
        messages=cast("list[ChatCompletionMessageParam]", messages),
        stream=True,
        stream_options={"include_usage": True},
        temperature=_given(temperature),
        top_p=_given(top_p),
        max_tokens=_given(max_tokens),
        seed=_given(seed),
        extra_body={"vtc": dict(vtc)} if vtc else None,
    )
    async with stream:
        async for chunk in stream:
            collector.chunk(chunk)
    return collector.finish()
