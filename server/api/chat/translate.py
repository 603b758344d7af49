"""From an OpenAI chat request to a `LoopRequest`.

`validate` runs every check that needs only the body (cheap, before any image is fetched);
`to_loop_request` converts the messages (decoding images) and checks what needs them decoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from server.api import translate as common
from server.api.protocol.chat import ChatCompletionRequest, ImageContent, Message, TextContent
from server.engines.base import ChatMessage, Part, TextPart
from server.errors import InvalidRequest, Unsupported
from server.loop.request import LoopRequest
from server.settings import Settings

_REFUSED_EXTRAS = (
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "structured_outputs",
    "allowed_token_ids",
    "bad_words",
    "prompt_logprobs",
    "use_beam_search",
)


def validate(body: ChatCompletionRequest, settings: Settings, served: tuple[str, ...]) -> None:
    common.check_model(body.model, served)
    _refuse_unsupported(body)
    common.check_max_tokens("max_tokens", body.max_tokens, settings)
    common.check_max_tokens("max_completion_tokens", body.max_completion_tokens, settings)
    common.check_vtc(body.vtc, settings)
    common.check_extensions(body)
    common.check_effort(body.reasoning_effort, "reasoning_effort")
    if body.stream_options is not None and not body.stream:
        raise InvalidRequest(
            "stream_options is only allowed when stream is true", param="stream_options"
        )
    if body.messages[-1].role != "user":
        raise InvalidRequest(
            "the last message must be the user's question",
            param=f"messages.{len(body.messages) - 1}.role",
        )
    common.stop_strings(body.stop)


# (field, is the value refused?, why): OpenAI fields whose meaning this server cannot honour.
_REFUSED_FIELDS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("n", lambda v: v not in (None, 1), "n > 1 is not supported: send one request per sample"),
    ("tools", bool, "tools are not supported by this server"),
    ("functions", bool, "functions are not supported by this server"),
    (
        "tool_choice",
        lambda v: v not in (None, "none"),
        "tool_choice is not supported by this server",
    ),
    (
        "response_format",
        lambda v: bool(v) and v.get("type") != "text",
        "response_format other than text is not supported",
    ),
    ("logprobs", bool, "logprobs are not supported"),
    ("logit_bias", bool, "logit_bias is not supported"),
    ("presence_penalty", bool, "a non-zero presence_penalty is not supported"),
    ("frequency_penalty", bool, "a non-zero frequency_penalty is not supported"),
)


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    for name, refused, why in _REFUSED_FIELDS:
        if refused(getattr(body, name)):
            raise Unsupported(why, param=name)
    extra = body.model_extra or {}
    for name in _REFUSED_EXTRAS:
        if extra.get(name) not in (None, False, [], {}):
            raise Unsupported(f"{name} is not supported by this server", param=name)


def image_urls(body: ChatCompletionRequest) -> Iterator[tuple[str, str]]:
    """(url, param) of every image part, in order (remote and file images are loaded from
    these before translation)."""
    for i, message in enumerate(body.messages):
        if message.role == "user" and isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if isinstance(part, ImageContent):
                    yield part.image_url.url, f"messages.{i}.content.{j}.image_url.url"


def to_loop_request(
    body: ChatCompletionRequest,
    settings: Settings,
    request_id: str,
    sources: Mapping[str, bytes] | None = None,
) -> LoopRequest:
    """`body` must have passed `validate`; `sources`: bytes of its http(s)/file images."""
    common.log_unknown(body.unknown_fields())
    loaded = sources or {}
    messages = tuple(convert_message(m, i, settings, loaded) for i, m in enumerate(body.messages))
    common.check_conversation(messages, settings, "messages")
    sampling = common.sampling(
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=common.stop_strings(body.stop),
        max_tokens=body.max_completion_tokens or body.max_tokens,
        ext=body,
        settings=settings,
    )
    last = body.messages[-1].content
    flags = (
        [isinstance(p, TextContent) and p.vtc_keep for p in last] if isinstance(last, list) else []
    )
    keep = common.kept_part(flags, f"messages.{len(body.messages) - 1}.content")
    options = common.loop_options(body.vtc, body.reasoning_effort, settings, keep)
    return LoopRequest(request_id=request_id, messages=messages, sampling=sampling, options=options)


def convert_message(
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
            param = f"{where}.{j}.image_url.url"
            parts.append(common.image_part(part.image_url.url, param, settings, loaded))
    if not parts:
        raise InvalidRequest("message content is empty", param=where)
    return ChatMessage(role, tuple(parts))
