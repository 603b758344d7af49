"""Helpers of the reliability tests: an engine that can die like the in-process one, a chat
request body, and the check of an OpenAI-shaped error."""

from __future__ import annotations

from server.engines.base import EngineError
from tests.support.scripted import MODEL, RoundEngine


class DyingEngine(RoundEngine):
    """Behaves like the in-process engine when its core dies: every stream fails with a
    non-retryable `EngineError`, and so does the health check."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.dead = False

    def die(self) -> None:
        self.dead = True
        if self.gate is not None:
            self.gate.set()  # wake held tokens so they notice

    def before_token(self, request_id: str) -> None:
        if self.dead:
            raise EngineError("EngineDeadError: engine core process died", retryable=False)

    async def check_health(self) -> None:
        if self.dead:
            raise EngineError("EngineDeadError: engine core process died", retryable=False)


def chat(**fields: object) -> dict[str, object]:
    return {"model": MODEL, "messages": [{"role": "user", "content": "What is 2 + 3?"}], **fields}


def assert_openai_error(body: object, code: str | None = None) -> dict[str, object]:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["message"] and error["type"]
    if code is not None:
        assert error["code"] == code, error
    return error
