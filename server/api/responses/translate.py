"""From a Responses API request to a `LoopRequest`: the same loop, limits and errors as chat
completions; only the input's shape differs.

Stateless: anything that needs stored state or server-side tools is a 400 `unsupported_value`
(`previous_response_id`, `background`, `conversation`, `store: true`, tools), never ignored.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from server.api import translate as common
from server.api.protocol.responses import (
    InputImage,
    InputMessage,
    InputText,
    OutputTextPart,
    ResponsesRequest,
)
from server.engines.base import ChatMessage, Part, TextPart
from server.errors import InvalidRequest, Unsupported
from server.loop.request import LoopRequest
from server.settings import Settings


def validate(body: ResponsesRequest, settings: Settings, served: tuple[str, ...]) -> None:
    common.check_model(body.model, served)
    _refuse_state(body)
    _refuse_unsupported(body)
    common.check_max_tokens("max_output_tokens", body.max_output_tokens, settings)
    common.check_vtc(body.vtc, settings)
    common.check_extensions(body)
    common.check_effort(body.reasoning.effort if body.reasoning else None, "reasoning.effort")
    if isinstance(body.input, list) and body.input[-1].role != "user":
        raise InvalidRequest(
            "the last input item must be the user's question",
            param=f"input.{len(body.input) - 1}.role",
        )


def _refuse_state(body: ResponsesRequest) -> None:
    stateless = "this server is stateless"
    if body.store:
        raise Unsupported(f"{stateless}: send store=false (or leave it out)", param="store")
    if body.previous_response_id is not None:
        raise Unsupported(
            f"{stateless}: previous_response_id is not supported; send the whole conversation "
            "as input",
            param="previous_response_id",
        )
    if body.background:
        raise Unsupported(
            f"{stateless}: background responses are not supported", param="background"
        )
    if body.conversation is not None:
        raise Unsupported(f"{stateless}: conversations are not supported", param="conversation")
    if body.prompt is not None:
        raise Unsupported("stored prompts are not supported", param="prompt")


def _refuse_unsupported(body: ResponsesRequest) -> None:
    if body.tools:
        raise Unsupported("tools are not supported by this server", param="tools")
    if body.tool_choice not in (None, "none", "auto"):
        raise Unsupported("tool_choice is not supported by this server", param="tool_choice")
    if body.text and body.text.format and body.text.format.type != "text":
        raise Unsupported("text.format other than text is not supported", param="text.format")
    if body.include:
        raise Unsupported(f"include {body.include[0]!r} is not supported", param="include")
    if body.top_logprobs:
        raise Unsupported("logprobs are not supported", param="top_logprobs")


def image_urls(body: ResponsesRequest) -> Iterator[tuple[str, str]]:
    """(url, param) of every input image, in order."""
    if isinstance(body.input, str):
        return
    for i, item in enumerate(body.input):
        if isinstance(item.content, list):
            for j, part in enumerate(item.content):
                if isinstance(part, InputImage) and part.image_url is not None:
                    yield part.image_url, f"input.{i}.content.{j}.image_url"


def to_loop_request(
    body: ResponsesRequest,
    settings: Settings,
    request_id: str,
    sources: Mapping[str, bytes] | None = None,
) -> LoopRequest:
    """`body` must have passed `validate`; `sources`: bytes of its http(s)/file images."""
    common.log_unknown(body.unknown_fields())
    loaded = sources or {}
    system = [ChatMessage("system", (TextPart(body.instructions),))] if body.instructions else []
    if isinstance(body.input, str):
        items = [ChatMessage("user", (TextPart(body.input),))]
    else:
        items = [_convert(m, i, settings, loaded) for i, m in enumerate(body.input)]
    messages = (*system, *items)
    common.check_conversation(messages, settings, "input")
    effort = body.reasoning.effort if body.reasoning else None
    sampling = common.sampling(
        temperature=body.temperature,
        top_p=body.top_p,
        seed=body.seed,
        stop=(),
        max_tokens=body.max_output_tokens,
        ext=body,
        settings=settings,
    )
    keep = None
    if isinstance(body.input, list) and isinstance(body.input[-1].content, list):
        flags = [isinstance(p, InputText) and p.vtc_keep for p in body.input[-1].content]
        keep = common.kept_part(flags, f"input.{len(body.input) - 1}.content")
    options = common.loop_options(body.vtc, effort, settings, keep)
    return LoopRequest(request_id=request_id, messages=messages, sampling=sampling, options=options)


def _convert(
    item: InputMessage, index: int, settings: Settings, loaded: Mapping[str, bytes]
) -> ChatMessage:
    role = "system" if item.role == "developer" else item.role
    where = f"input.{index}.content"
    if isinstance(item.content, str):
        return ChatMessage(role, (TextPart(item.content),))
    parts: list[Part] = []
    for j, part in enumerate(item.content):
        if isinstance(part, InputText | OutputTextPart):
            parts.append(TextPart(part.text))
            continue
        param = f"{where}.{j}"
        if role != "user":
            raise InvalidRequest("images are only accepted in user messages", param=param)
        if part.image_url is None:
            raise Unsupported(
                "input_image needs an image_url (file_id is not supported)", param=param
            )
        parts.append(common.image_part(part.image_url, f"{param}.image_url", settings, loaded))
    if not parts:
        raise InvalidRequest("message content is empty", param=where)
    return ChatMessage(role, tuple(parts))
