"""`POST /v1/responses`: validate, translate, run the loop, answer (JSON or SSE). The same
service, loop and errors as chat completions; only the translation and the wire differ."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from server.api.openapi import error_responses, sse_response
from server.api.protocol.responses import ResponseObject, ResponsesRequest
from server.api.responses.stream import stream_response
from server.api.responses.translate import image_urls, to_loop_request, validate
from server.api.responses.wire import ResponsesWire
from server.api.run import respond, until_disconnect
from server.api.state import State
from server.api.strict_json import StrictJSONRoute
from server.errors import VtcError

router = APIRouter(route_class=StrictJSONRoute, strict_content_type=False)


@router.post(
    "/v1/responses",
    response_model=ResponseObject,
    responses={
        **sse_response(
            "ResponseStreamEvent",
            "With `stream: true`: named server-sent events (`event:` is the event's `type`).",
        ),
        **error_responses(),
    },
)
async def create_response(body: ResponsesRequest, request: Request, state: State) -> Response:
    mode = (body.vtc and body.vtc.mode) or "vtc"
    try:
        service = state.require_service()
        validate(body, state.settings, (state.model_name,))
        sources = await until_disconnect(request, state.image_sources.load(list(image_urls(body))))
        loop_request = to_loop_request(body, state.settings, f"resp_{uuid.uuid4().hex}", sources)
    except VtcError:
        state.count_rejected(mode)
        raise
    vtc = body.vtc
    wire = ResponsesWire(
        body,
        loop_request,
        state.model_name,
        state.cleaner(skip_special_tokens=body.skip_special_tokens),
        return_pages=bool(vtc and vtc.return_pages),
    )
    return await respond(
        request,
        service.run(loop_request),
        stream=body.stream,
        stream_pages=bool(vtc and vtc.stream_pages),
        streamed=lambda items: stream_response(items, wire),
        complete=wire.response,
    )
