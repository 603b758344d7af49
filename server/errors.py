"""The one error hierarchy of the server, and its one mapping to HTTP.

Every failure a client can see is a `VtcError` subclass carrying its HTTP status and the OpenAI
error `type`/`code`/`param`. The API layer turns any of them into
`{"error": {"message", "type", "param", "code"}}` in one place (`server/api/errors.py`), before
the first byte as a status code, after it in-band in the SSE stream.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VtcError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequest(VtcError):
    status = 400
    type = "invalid_request_error"


class Unsupported(InvalidRequest):
    default_code = "unsupported_value"


class PayloadTooLarge(VtcError):
    status = 413
    type = "invalid_request_error"
    default_code = "payload_too_large"


class UnsupportedMediaType(VtcError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"


class Unauthorized(VtcError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class ModelNotFound(VtcError):
    status = 404
    type = "invalid_request_error"
    default_code = "model_not_found"


class NotFound(VtcError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class Overloaded(VtcError):
    status = 429
    type = "rate_limit_error"
    default_code = "server_overloaded"


class DeadlineExceeded(VtcError):
    status = 504
    type = "timeout_error"
    default_code = "deadline_exceeded"


class EngineUnavailable(VtcError):
    status = 503
    type = "service_unavailable"
    default_code = "engine_unavailable"


class EngineFailed(VtcError):
    status = 502
    type = "engine_error"
    default_code = "engine_error"


class RenderFailed(VtcError):
    status = 500
    type = "internal_error"
    default_code = "render_failed"


class InternalError(VtcError):
    status = 500
    type = "internal_error"
    default_code = "internal_error"
