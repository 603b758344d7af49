"""How the routes describe their responses in `/openapi.json`: the JSON body, the SSE events,
and the OpenAI error body for every status the server sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from server.api.protocol.common import ErrorResponse

ERROR_STATUSES = {
    400: "Invalid request (validation, unsupported value, image)",
    401: "Missing or wrong API key",
    404: "Unknown model or route",
    413: "Body, image bytes or pixels too large",
    415: "Not a JSON body",
    429: "Over capacity (Retry-After)",
    500: "Renderer or server failure",
    502: "The engine failed the request",
    503: "Engine loading, unavailable, dead, or the server draining",
    504: "The request's deadline passed",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    chosen = statuses or tuple(ERROR_STATUSES)
    return {s: {"model": ErrorResponse, "description": ERROR_STATUSES[s]} for s in chosen}


def sse_response(event: str, description: str = "") -> dict[int | str, dict[str, Any]]:
    """The 200 response's `text/event-stream` alternative: `data:` lines of the `event`
    schema (one of the streamed types given to `install_openapi`)."""
    text = description or f"With `stream: true`: server-sent events, each `data:` a {event}."
    schema = {"$ref": f"#/components/schemas/{event}"}
    return {200: {"description": text, "content": {"text/event-stream": {"schema": schema}}}}


def install_openapi(app: FastAPI, streamed: Mapping[str, Any]) -> None:
    """`/openapi.json` as FastAPI makes it, plus the schemas of the streamed event types
    (referenced from the `text/event-stream` alternatives), minus FastAPI's 422: validation
    errors here are 400s in OpenAI's shape."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, kind in streamed.items():
                adapter: TypeAdapter[Any] = TypeAdapter(kind)
                definition = adapter.json_schema(
                    mode="serialization", ref_template="#/components/schemas/{model}"
                )
                for sub, sub_definition in definition.pop("$defs", {}).items():
                    components.setdefault(sub, sub_definition)
                components.setdefault(name, definition)
            for name in ("HTTPValidationError", "ValidationError"):
                components.pop(name, None)
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    operation.get("responses", {}).pop("422", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
