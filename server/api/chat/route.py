"""`POST /v1/chat/completions`: validate, translate, run the loop, answer (JSON or SSE)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.api.chat.stream import stream_chat
from server.api.chat.translate import image_urls, to_loop_request, validate
from server.api.chat.wire import ChatWire
from server.api.openapi import error_responses, sse_response
from server.api.protocol.chat import ChatCompletion, ChatCompletionRequest
from server.api.run import respond, until_disconnect
from server.api.state import State
from server.api.strict_json import StrictJSONRoute
from server.errors import VtcError

# Strict JSON (no NaN, no lone surrogates, bounded depth); no content type is taken as JSON.
router = APIRouter(route_class=StrictJSONRoute, strict_content_type=False)


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletion,
    responses={**sse_response("ChatCompletionChunk"), **error_responses()},
)
async def chat_completions(body: ChatCompletionRequest, request: Request, state: State) -> Response:
    mode = (body.vtc and body.vtc.mode) or "vtc"
    try:
        service = state.require_service()
        validate(body, state.settings, (state.model_name,))
        sources = await until_disconnect(request, state.image_sources.load(list(image_urls(body))))
        loop_request = to_loop_request(
            body, state.settings, f"chatcmpl-{uuid.uuid4().hex}", sources
        )
    except VtcError:
        state.count_rejected(mode)
        raise
    vtc = body.vtc
    wire = ChatWire(
        loop_request.request_id,
        state.model_name,
        state.settings.reasoning_fields,
        state.cleaner(skip_special_tokens=body.skip_special_tokens),
        return_pages=bool(vtc and vtc.return_pages),
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
        continuous_usage=bool(body.stream_options and body.stream_options.continuous_usage_stats),
    )
    return await respond(
        request,
        service.run(loop_request),
        stream=body.stream,
        stream_pages=bool(vtc and vtc.stream_pages),
        streamed=lambda items: stream_chat(items, wire),
        complete=wire.completion,
    )
