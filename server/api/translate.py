"""From an OpenAI chat request to a `LoopRequest`: validation of meaning, limits, images.

Everything here runs before the first byte of the response, so a bad request gets a status code
and an OpenAI error body rather than a broken stream.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

from server.api.images import decode_image_url, open_image
from server.api.schemas import ChatCompletionRequest, ImageContent, Message, TextContent
from server.engines.base import ChatMessage, ImagePart, Part, TextPart
from server.errors import InvalidRequest, ModelNotFound, Unsupported
from server.loop.request import LoopOptions, LoopRequest, Sampling
from server.settings import Settings

log = logging.getLogger("vtcr1.api")


def check_model(body: ChatCompletionRequest, served_names: tuple[str, ...]) -> None:
    if body.model not in served_names:
        shown = body.model if len(body.model) <= 64 else body.model[:64] + "..."
        raise ModelNotFound(
            f"the model {shown!r} does not exist; this server serves {served_names[0]!r}",
            param="model",
        )


def image_urls(body: ChatCompletionRequest) -> Iterator[tuple[str, str]]:
    """(url, param) of every image part, in order (remote and file images are loaded from
    these before translation)."""
    for i, message in enumerate(body.messages):
        if message.role == "user" and isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if isinstance(part, ImageContent):
                    yield part.image_url.url, f"messages.{i}.content.{j}.image_url.url"


def check_caps(body: ChatCompletionRequest, settings: Settings) -> None:
    """Values in range for OpenAI but beyond what this server is configured to spend."""
    for name in ("max_tokens", "max_completion_tokens"):
        value = getattr(body, name)
        if value is not None and value > settings.max_tokens_limit:
            raise InvalidRequest(
                f"{name} is too large; this server allows at most {settings.max_tokens_limit}",
                param=name,
            )
    vtc = body.vtc
    if vtc is not None:
        caps = (
            ("max_rounds", vtc.max_rounds, settings.max_rounds_limit),
            ("round_max_tokens", vtc.round_max_tokens, settings.round_max_tokens_limit),
        )
        for name, value, cap in caps:
            if value is not None and value > cap:
                raise InvalidRequest(
                    f"vtc.{name} is too large; this server allows at most {cap}",
                    param=f"vtc.{name}",
                )
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest(
            "stream_options is only allowed when stream is true", param="stream_options"
        )


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    if body.n not in (None, 1):
        raise Unsupported("n > 1 is not supported: send one request per sample", param="n")
    for name in ("tools", "functions"):
        if getattr(body, name):
            raise Unsupported(f"{name} are not supported by this server", param=name)
    if body.tool_choice not in (None, "none"):
        raise Unsupported("tool_choice is not supported by this server", param="tool_choice")
    if body.response_format and body.response_format.get("type") != "text":
        raise Unsupported(
            "response_format other than text is not supported", param="response_format"
        )
    if body.logprobs:
        raise Unsupported("logprobs are not supported", param="logprobs")
    for name in ("presence_penalty", "frequency_penalty"):
        if getattr(body, name):
            raise Unsupported(f"a non-zero {name} is not supported", param=name)


def to_loop_request(
    body: ChatCompletionRequest,
    settings: Settings,
    request_id: str,
    sources: Mapping[str, bytes] | None = None,
) -> LoopRequest:
    """`sources`: bytes of the request's http(s)/file images, already loaded by URL."""
    refuse_unsupported(body)
    check_caps(body, settings)
    unknown = body.unknown_fields()
    if unknown:
        log.info("ignoring unknown request fields: %s", ", ".join(unknown))
    if len(body.messages) > settings.max_messages:
        raise InvalidRequest(
            f"too many messages ({len(body.messages)} > {settings.max_messages})",
            param="messages",
        )
    if body.messages[-1].role != "user":
        raise InvalidRequest(
            "the last message must be the user's question",
            param=f"messages.{len(body.messages) - 1}.role",
        )
    loaded = sources or {}
    messages = tuple(_convert(m, i, settings, loaded) for i, m in enumerate(body.messages))
    images = sum(len(m.images) for m in messages)
    if images > settings.max_input_images:
        raise InvalidRequest(
            f"too many images ({images} > {settings.max_input_images})", param="messages"
        )
    text = sum(len(p.text) for m in messages for p in m.parts if isinstance(p, TextPart))
    if text > settings.max_text_chars:
        raise InvalidRequest(
            f"too much text ({text} > {settings.max_text_chars} characters)", param="messages"
        )

    vtc = body.vtc
    options = LoopOptions(
        mode=(vtc and vtc.mode) or "vtc",
        max_rounds=(vtc and vtc.max_rounds) or settings.max_rounds,
        round_max_tokens=(vtc and vtc.round_max_tokens) or settings.round_max_tokens,
        image_order=(vtc and vtc.image_order) or settings.image_order,
        system_prompt=settings.system_prompt,
        max_pages_per_round=settings.max_pages_per_round,
        max_images_per_prompt=settings.max_images_per_prompt,
    )
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    if len(stop) > 4 or any(not s for s in stop):
        raise InvalidRequest("stop takes up to 4 non-empty strings", param="stop")
    temperature = settings.temperature if body.temperature is None else body.temperature
    top_p = settings.top_p if body.top_p is None else body.top_p
    if top_p == 0:
        # OpenAI allows top_p 0 (keep only the likeliest token); vLLM wants > 0: same as greedy.
        temperature, top_p = 0.0, 1.0
    sampling = Sampling(
        temperature=temperature,
        top_p=top_p,
        seed=body.seed,
        stop=stop,
        # Unset: all rounds' tokens, but never more than the server's cap.
        max_tokens=body.max_completion_tokens or body.max_tokens or settings.max_tokens_limit,
    )
    return LoopRequest(request_id=request_id, messages=messages, sampling=sampling, options=options)


def _convert(
    message: Message, index: int, settings: Settings, loaded: Mapping[str, bytes]
) -> ChatMessage:
    role = "system" if message.role == "developer" else message.role
    where = f"messages.{index}.content"
    content = message.content
    if content is None:
        if role == "assistant":
            return ChatMessage("assistant", (TextPart(""),))
        raise InvalidRequest(f"a {message.role} message needs content", param=where)
    if isinstance(content, str):
        return ChatMessage(role, (TextPart(content),))
    parts: list[Part] = []
    for j, part in enumerate(content):
        if isinstance(part, TextContent):
            parts.append(TextPart(part.text))
        elif isinstance(part, ImageContent):
            if role != "user":
                raise InvalidRequest("images are only accepted in user messages", param=where)
            url, param = part.image_url.url, f"{where}.{j}.image_url.url"
            if url in loaded:
                image = open_image(loaded[url], param=param, max_pixels=settings.max_image_pixels)
            else:
                image = decode_image_url(
                    url,
                    param=param,
                    max_bytes=settings.max_image_bytes,
                    max_pixels=settings.max_image_pixels,
                )
            parts.append(ImagePart(image))
    if not parts:
        raise InvalidRequest("message content is empty", param=where)
    return ChatMessage(role, tuple(parts))
