"""Request bodies parsed as strictly as RFC 8259 and OpenAI's API: no `NaN`/`Infinity`, no
lone surrogates (they would crash the tokenizer later, as a 500), no absurd nesting, and a JSON
content type. Each failure is a 400 (415 for a wrong content type) in OpenAI's error shape.

Python's `json` accepts `NaN` and `Infinity`, turns `\\ud800` into a string UTF-8 cannot encode,
and FastAPI would answer a non-JSON content type with a confusing "valid dictionary" error; this
route class parses the body itself, before FastAPI's validation sees it.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from server.errors import InvalidRequest, UnsupportedMediaType

MAX_DEPTH = 64


def _no_constants(name: str) -> Any:
    raise InvalidRequest(
        f"the body is not valid JSON: {name} is not a JSON number", code="invalid_json"
    )


def check_content_type(value: str | None) -> None:
    """Absent is taken as JSON (bare `httpx`/`curl --data-binary`); anything else must be it."""
    if not value:
        return
    message = email.message.Message()
    message["content-type"] = value
    subtype = message.get_content_subtype()
    if message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    ):
        return
    raise UnsupportedMediaType(
        f"unsupported content type {value[:64]!r}: send Content-Type: application/json"
    )


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidRequest("the request body is empty", code="invalid_json")
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except InvalidRequest:
        raise
    except RecursionError:
        raise InvalidRequest("the JSON body is nested too deeply", code="invalid_json") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, integers with too many digits
        raise InvalidRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    check_tree(data)
    return data


def check_tree(data: Any) -> None:
    """Depth at most MAX_DEPTH, every string (keys too) encodable as UTF-8. Iterative."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_string(value)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_DEPTH:
            raise InvalidRequest(
                f"the JSON body is nested deeper than {MAX_DEPTH} levels", code="invalid_json"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                _check_string(key)
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)


def _check_string(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(
            "the body holds a lone surrogate (\\ud800-\\udfff) that is not valid Unicode",
            code="invalid_json",
        ) from None


class _ParsedRequest(Request):
    """The request with its body already read and parsed (FastAPI calls `json()`)."""

    def __init__(self, request: Request, body: bytes, data: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._body = body
        self._parsed = data

    async def json(self) -> Any:
        return self._parsed


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            if request.method not in ("POST", "PUT", "PATCH"):
                return await handler(request)
            check_content_type(request.headers.get("content-type"))
            body = await request.body()
            return await handler(_ParsedRequest(request, body, parse_json(body)))

        return strict
