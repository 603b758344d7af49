"""Engines and helpers for the reliability tests: a turnstile gate that lets a counted number of
tokens through, an engine whose rounds are a function of the round number (so concurrent
requests do not share one script), an engine that can die, and a deadline-bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Literal

from server.engines.base import (
    ChatMessage,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
)
from tests.loop.scripted import IMAGE_TOKENS, tokens_of

MODEL = "scripted"
THINKING = "let me think about this problem step by step and check every case carefully " * 8
FINAL = "so the answer is five </think> The answer is 5. <answer>5</answer>"


async def eventually(
    predicate: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition"
) -> None:
    """Wait until `predicate()` holds, polling, with a hard deadline (not a sleep-to-sync:
    the condition is checked, and the wait fails loudly if it never comes)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


class Turnstile(asyncio.Event):
    """An `asyncio.Event` used as the engine's per-token gate that can also let a counted number
    of tokens through (`allow(n)`); `set()` opens it for good. `waiting` counts tokens held."""

    def __init__(self) -> None:
        super().__init__()
        self.permits = 0
        self.waiting = 0
        self.passed = 0
        self._changed = asyncio.Event()

    def _poke(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def allow(self, n: int = 1) -> None:
        self.permits += n
        self._poke()

    def set(self) -> None:
        super().set()
        self._poke()

    async def wait(self) -> Literal[True]:
        self.waiting += 1
        self._poke()
        try:
            while not self.is_set() and self.permits <= 0:
                await self._changed.wait()
            if not self.is_set():
                self.permits -= 1
            self.passed += 1
            return True
        finally:
            self.waiting -= 1
            self._poke()

    async def until_waiting(self, n: int = 1, timeout_s: float = 10.0) -> None:
        """Until `n` tokens are held at the gate (all earlier permits used up)."""
        async with asyncio.timeout(timeout_s):
            while self.waiting < n or self.permits > 0:
                await self._changed.wait()


class RoundEngine:
    """Round k of every request replays `script(k)` (rounds are numbered in the request id's
    `-k` suffix), one token per word. Records running and aborted engine requests."""

    def __init__(
        self,
        rounds: int = 3,
        *,
        gate: asyncio.Event | None = None,
        thinking: str = THINKING,
        final: str = FINAL,
    ) -> None:
        self.rounds = rounds
        self.gate = gate
        self.thinking = thinking
        self.final = final
        self.calls: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, for other threads
        self.running: set[str] = set()
        self.aborted: list[str] = []
        self.completed: list[str] = []
        self.info = ModelInfo(
            name=MODEL, max_model_len=1 << 20, image_tokens=lambda w, h: IMAGE_TOKENS
        )

    def script(self, round_number: int) -> str:
        return self.final if round_number >= self.rounds else self.thinking

    def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        request_id: str,
        session_id: str | None = None,
    ) -> AsyncGenerator[GenerationDelta, None]:
        self.calls.append(request_id)
        self.loop = asyncio.get_running_loop()
        return self._stream(params, request_id)

    async def _token_gate(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)  # let other requests run, like a real engine's steps

    async def _stream(
        self, params: GenerationParams, request_id: str
    ) -> AsyncGenerator[GenerationDelta, None]:
        round_number = int(request_id.rsplit("-", 1)[1])
        pieces = tokens_of(self.script(round_number))[: params.max_tokens]
        self.running.add(request_id)
        done = False
        try:
            for count, piece in enumerate(pieces, 1):
                await self._token_gate()
                self.before_token(request_id)
                last = count == len(pieces)
                finish = ("length" if count >= params.max_tokens else "stop") if last else None
                yield GenerationDelta(piece, count, 10, 0, finish)
            done = True
        finally:
            self.running.discard(request_id)
            (self.completed if done else self.aborted).append(request_id)

    def before_token(self, request_id: str) -> None:
        """Hook for engines that fail."""

    async def abort(self, request_id: str) -> None:
        self.running.discard(request_id)
        self.aborted.append(request_id)

    async def check_health(self) -> None:
        return None

    async def tokenize(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return list(range(len(tokens_of(text))))

    async def detokenize(self, tokens: Sequence[int]) -> str:
        return " ".join(str(t) for t in tokens)

    def chat_template(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        return ""

    async def aclose(self) -> None:
        return None


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
