"""What every client command shares: building the OpenAI client, the `vtc` request extension,
and one streamed completion turned into a plain record.

The clients speak only the OpenAI wire protocol (through the official SDK), so they work against
this server and against any other OpenAI-compatible endpoint (a plain `vllm serve` included);
everything VTC-specific is read defensively from the extra fields and may be absent.
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletionMessageParam

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
# The SDK refuses to start without a key; local servers ignore it.
DEFAULT_API_KEY = "EMPTY"
MODES = ("vtc", "baseline")
IMAGE_ORDERS = ("images_first", "question_first")


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """--base-url / --api-key / --model / --timeout, identical for every command."""
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help=f"OpenAI-compatible base URL (default: {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="API key (default: $OPENAI_API_KEY, else 'EMPTY')",
    )
    parser.add_argument(
        "--model", default=None, help="model name (default: the first of GET /v1/models)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds one request may take before it counts as failed (default: 3600)",
    )


def add_vtc_args(parser: argparse.ArgumentParser, *, with_mode: bool = True) -> None:
    """The `vtc` extension knobs; unset ones are not sent, so the server's defaults apply."""
    if with_mode:
        parser.add_argument("--mode", choices=MODES, default=None, help="vtc or baseline")
    parser.add_argument("--max-rounds", type=int, default=None, help="VTC rounds at most")
    parser.add_argument(
        "--round-max-tokens", type=int, default=None, help="tokens generated per round at most"
    )
    parser.add_argument("--image-order", choices=IMAGE_ORDERS, default=None)


def api_key_from(arg: str | None) -> str:
    return arg or os.environ.get("OPENAI_API_KEY") or DEFAULT_API_KEY


def make_client(
    base_url: str, api_key: str | None, *, timeout: float = 3600.0
) -> openai.AsyncOpenAI:
    """One async client per command. Retries are off: a benchmark must see every failure, and
    a retried reasoning request would silently double its latency."""
    return openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key_from(api_key), timeout=timeout, max_retries=0
    )


async def resolve_model(client: openai.AsyncOpenAI, model: str | None) -> str:
    """The given model, else the first the server lists (a VTC server serves exactly one)."""
    if model:
        return model
    page = await client.models.list()
    for entry in page.data:
        return entry.id
    raise RuntimeError("the server lists no models; pass --model")


def vtc_body(
    *,
    mode: str | None = None,
    max_rounds: int | None = None,
    round_max_tokens: int | None = None,
    image_order: str | None = None,
    return_pages: bool = False,
) -> dict[str, Any]:
    """The `vtc` request object with only the fields the user set."""
    body: dict[str, Any] = {}
    if mode is not None:
        body["mode"] = mode
    if max_rounds is not None:
        body["max_rounds"] = max_rounds
    if round_max_tokens is not None:
        body["round_max_tokens"] = round_max_tokens
    if image_order is not None:
        body["image_order"] = image_order
    if return_pages:
        body["return_pages"] = True
    return body


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
    round_pages: list[str] = field(default_factory=list)  # page data URLs from round markers

    @property
    def rounds(self) -> int | None:
        if self.vtc and isinstance(self.vtc.get("rounds"), int):
            return int(self.vtc["rounds"])
        return len(self.per_round) or None

    @property
    def page_images(self) -> list[str]:
        """All rendered pages: the final object's list when sent, else the rounds' pages."""
        if self.vtc and isinstance(self.vtc.get("page_images"), list):
            return [str(p) for p in self.vtc["page_images"]]
        return list(self.round_pages)

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
) -> StreamResult:
    """Stream one chat completion to its end and collect it.

    Streaming rather than a single response: the server keeps the connection busy during long
    multi-round requests (no idle proxy timeouts), and it is the only way to measure TTFT.
    """
    result = StreamResult()

    def given(value: Any) -> Any:
        # Unset knobs are left out of the request (the server's defaults apply), not sent as null.
        return openai.omit if value is None else value

    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=model,
        messages=cast("list[ChatCompletionMessageParam]", messages),
        stream=True,
        stream_options={"include_usage": True},
        temperature=given(temperature),
        top_p=given(top_p),
        max_tokens=given(max_tokens),
        seed=given(seed),
        extra_body={"vtc": dict(vtc)} if vtc else None,
    )
    reasoning_parts: list[str] = []
    content_parts: list[str] = []
    async with stream:
        async for chunk in stream:
            marker = vtc_of(chunk)
            if marker is not None:
                if "per_round" in marker or "mode" in marker:
                    result.vtc = marker
                elif "round" in marker:
                    pages = marker.pop("page_images", None)
                    if isinstance(pages, list):
                        result.round_pages.extend(str(p) for p in pages)
                    result.per_round.append(marker)
                    if on_round is not None:
                        on_round(marker)
            if chunk.usage is not None:
                result.prompt_tokens = chunk.usage.prompt_tokens
                result.completion_tokens = chunk.usage.completion_tokens
            for choice in chunk.choices:
                if choice.index != 0:
                    continue
                text = reasoning_of(choice.delta)
                if text:
                    if result.ttft_s is None:
                        result.ttft_s = time.perf_counter() - start
                    reasoning_parts.append(text)
                    if on_reasoning is not None:
                        on_reasoning(text)
                answer = choice.delta.content
                if answer:
                    if result.ttft_s is None:
                        result.ttft_s = time.perf_counter() - start
                    content_parts.append(answer)
                    if on_content is not None:
                        on_content(answer)
                if choice.finish_reason is not None:
                    result.finish_reason = choice.finish_reason
    result.latency_s = time.perf_counter() - start
    result.reasoning = "".join(reasoning_parts)
    result.content = "".join(content_parts)
    return result


# What one failed request can raise: the SDK's errors, transport errors while a stream is being
# read (httpx's own, not wrapped by the SDK), timeouts, and malformed JSON in the stream.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    openai.OpenAIError,
    httpx.HTTPError,
    OSError,
    TimeoutError,
    ValueError,
)
# ... and what else a command reports as a one-line failure (no model listed, ...).
COMMAND_ERRORS: tuple[type[BaseException], ...] = (*REQUEST_ERRORS, RuntimeError)


def error_text(exc: BaseException) -> str:
    """One line for a failed request: the server's OpenAI-shaped message when there is one."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        if isinstance(body, Mapping):
            inner = body.get("error", body)
            if isinstance(inner, Mapping) and inner.get("message"):
                return f"HTTP {exc.status_code}: {inner['message']}"
        return f"HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return f"connection error: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def error_kind(exc: BaseException) -> str:
    """A short bucket for error counts in reports."""
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return "connection"
    return type(exc).__name__
