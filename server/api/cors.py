"""CORS, with vLLM's flags and defaults, so a browser app can call the API directly.

`--allowed-origins` (default: none, i.e. cross-origin browser access is off, as in vLLM 0.32),
`--allowed-methods` and `--allowed-headers` (default `*`), `--allow-credentials` (default off).
The middleware sits outside the API-key check: a browser's preflight (`OPTIONS` with `Origin` and
`Access-Control-Request-Method`) never carries the key, so it is answered here, and the CORS
headers also reach a 401 so the page can read why its real request failed. A refused preflight
is a 400 in OpenAI's error shape (Starlette's own is plain text).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from server.api.errors import error_response
from server.errors import InvalidRequest
from server.settings import Settings


class Cors(CORSMiddleware):
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        super().__init__(
            app,
            allow_origins=settings.allowed_origins,
            allow_methods=settings.allowed_methods,
            allow_headers=settings.allowed_headers,
            allow_credentials=settings.allow_credentials,
        )

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode()  # "Disallowed CORS origin, method"
        error = InvalidRequest(
            f"CORS preflight refused: {reason.removeprefix('Disallowed CORS ')} not allowed "
            "(see --allowed-origins, --allowed-methods, --allowed-headers)",
            code="cors_not_allowed",
        )
        refused = error_response(error)
        for name, value in response.headers.items():
            if name.startswith("access-control-") or name == "vary":
                refused.headers[name] = value
        return refused
