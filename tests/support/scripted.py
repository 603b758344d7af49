"""The tests' one fake engine: a scripted token loop, for the logic of the loop, the API and the
gateway's reliability (never the only test of an engine path: those run the real vLLM engine).

What a request generates comes from a script, one token per whitespace-separated word:
`ScriptedEngine(outputs)` replays the next of `outputs` for each engine request (a test that
drives one request and checks the prompts the loop built), `RoundEngine(rounds)` replays a
function of the round number in the request id's `-k` suffix (so concurrent requests, as in the
load tests, do not share one script). Both record every call, which requests are running, which
completed and which were aborted, and can hold each token at a gate (`Turnstile`) so a test can
stop a generation at a point it chose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Literal, NamedTuple

from server.engines.base import (
    ChatMessage,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
    TextPart,
)

MODEL = "scripted"
IMAGE_TOKENS = 7
THINKING = "let me think about this problem step by step and check every case carefully " * 8
FINAL = "so the answer is five </think> The answer is 5. <answer>5</answer>"


def tokens_of(text: str) -> list[str]:
    """Split text into 'tokens' that concatenate back to it (words with their trailing space)."""
    pieces = [word + " " for word in text.split(" ")]
    if pieces:
        pieces[-1] = pieces[-1][:-1]
    return [p for p in pieces if p]


class Call(NamedTuple):
    """One `generate` call, as the engine received it."""

    messages: list[ChatMessage]
    params: GenerationParams
    request_id: str
    session_id: str | None


class ScriptedEngine:
    """Each engine request replays the next of `outputs`; an exhausted script is an
    `EngineError`. Prompt tokens are counted as words, `IMAGE_TOKENS` per image; the caller's
    stop strings end the output the way vLLM's do (the stop string is not returned)."""

    def __init__(self, outputs: Sequence[str] = (), *, gate: asyncio.Event | None = None) -> None:
        self.outputs = list(outputs)
        self.gate = gate  # when given, each token waits for it (lets tests stop mid-stream)
        self.calls: list[Call] = []
        self.running: set[str] = set()
        self.completed: list[str] = []
        self.aborted: list[str] = []
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, for other threads
        self.info = ModelInfo(
            name=MODEL, max_model_len=1 << 20, image_tokens=lambda w, h: IMAGE_TOKENS
        )

    def script(self, request_id: str) -> str:
        """The text the engine request `request_id` generates."""
        if not self.outputs:
            raise EngineError("script exhausted")
        return self.outputs.pop(0)

    def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        request_id: str,
        session_id: str | None = None,
    ) -> AsyncGenerator[GenerationDelta, None]:
        self.calls.append(Call(list(messages), params, request_id, session_id))
        self.loop = asyncio.get_running_loop()
        return self._stream(list(messages), params, request_id)

    async def _stream(
        self, messages: list[ChatMessage], params: GenerationParams, request_id: str
    ) -> AsyncGenerator[GenerationDelta, None]:
        pieces = tokens_of(self.script(request_id))[: params.max_tokens]
        prompt = sum(
            len(p.text.split()) if isinstance(p, TextPart) else IMAGE_TOKENS
            for m in messages
            for p in m.parts
        )
        self.running.add(request_id)
        done = False
        try:
            count = 0
            for count, piece in enumerate(pieces, 1):
                await self._token_gate()
                self.before_token(request_id)
                stop = next((s for s in params.stop if s in piece), None)
                if stop is not None:
                    yield GenerationDelta("", count - 1, prompt, 0, "stop", stop_sequence=stop)
                    break
                last = count == len(pieces)
                finish = ("length" if count >= params.max_tokens else "stop") if last else None
                yield GenerationDelta(piece, count, prompt, 0, finish)
            if not pieces:
                yield GenerationDelta("", 0, prompt, 0, "stop")
            done = True
        finally:
            self.running.discard(request_id)
            (self.completed if done else self.aborted).append(request_id)

    async def _token_gate(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)  # a yield, not a wait: other requests run, as between steps

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
        return "\n".join(p.text for m in messages for p in m.parts if isinstance(p, TextPart))

    async def aclose(self) -> None:
        return None


class RoundEngine(ScriptedEngine):
    """Round k of every request replays `thinking` (no answer: the loop goes on) until round
    `rounds`, which replays `final` (an answer)."""

    def __init__(
        self,
        rounds: int = 3,
        *,
        gate: asyncio.Event | None = None,
        thinking: str = THINKING,
        final: str = FINAL,
    ) -> None:
        super().__init__(gate=gate)
        self.rounds = rounds
        self.thinking = thinking
        self.final = final

    def script(self, request_id: str) -> str:
        round_number = int(request_id.rsplit("-", 1)[1])
        return self.final if round_number >= self.rounds else self.thinking


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
