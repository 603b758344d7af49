"""ASGI middleware for every request: a request id (the client's `X-Request-Id` or a new one)
for logs and the response header, fixed response headers (`X-Vtcr1-Worker` with several
workers), and the body-size limit (413 before the body is read)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.api.errors import error_response
from server.errors import PayloadTooLarge
from server.logs import request_id_var

_SAFE_ID = re.compile(r"^[\w.:@/+=-]{1,128}$")


class _BodyTooLarge(PayloadTooLarge):
    """Raised from `receive` once the body passes the limit: a `VtcError`, so wherever the app
    is reading the body the error handlers turn it into the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        headers: tuple[tuple[bytes, bytes], ...] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            tagged = self._tagged(send, request_id, self.headers)
            await self.app(scope, self._limited(receive), tagged)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)
        finally:
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise _BodyTooLarge(self.max_body_bytes)
            return message

        return wrapped

    @staticmethod
    def _tagged(send: Send, request_id: str, extra: tuple[tuple[bytes, bytes], ...]) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.extend(extra)
                message = {**message, "headers": headers}
            await send(message)

        return wrapped

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"request body larger than {self.max_body_bytes} bytes")
        await error_response(error)(scope, receive, send)
