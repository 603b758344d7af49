"""The one place where errors become HTTP responses: `VtcError`s, request validation errors,
unknown routes, and anything unexpected, all in OpenAI's error shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.errors import InternalError, InvalidRequest, NotFound, VtcError

log = logging.getLogger("vtcr1.api")
_TYPE_NAMES = {"str", "int", "float", "bool", "list", "dict", "none"}


def error_response(error: VtcError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    """The first problem, with its location as OpenAI's `param` (e.g. `messages.0.role`)."""
    errors: list[Any] = list(exc.errors())
    if not errors:
        return InvalidRequest("invalid request body")
    first = errors[0]
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    # Drop pydantic's union-branch names (e.g. `list[...]`, `ImageContent`) from the path.
    location = [p for p in location if not (p[:1].isupper() or "[" in p or p in _TYPE_NAMES)]
    param = ".".join(location) or None
    message = first.get("msg", "invalid value")
    if first.get("type") == "json_invalid":
        return InvalidRequest(f"the body is not valid JSON: {message}", code="invalid_json")
    where = f" at {param}" if param else ""
    return InvalidRequest(f"{message}{where}", param=param, code="invalid_value")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(VtcError)
    async def _vtc(_: Request, exc: VtcError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return error_response(NotFound(f"no route {request.method} {request.url.path}"))
        if exc.status_code == 405:
            error = InvalidRequest(
                f"method {request.method} not allowed", code="method_not_allowed"
            )
            response = error_response(error)
            response.status_code = 405
            return response
        error = InvalidRequest(str(exc.detail), code=f"http_{exc.status_code}")
        response = error_response(error)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(InternalError("internal server error"))
