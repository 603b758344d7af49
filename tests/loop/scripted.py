"""A scripted engine for unit tests of the loop's logic (never the only test of an engine path).

Each round replays the next scripted output, one token per whitespace-separated piece, and
records what it was sent, so tests can check the prompts the loop built.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence

from server.engines.base import (
    ChatMessage,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
    TextPart,
)

IMAGE_TOKENS = 7


def tokens_of(text: str) -> list[str]:
    """Split text into 'tokens' that concatenate back to it (words with their trailing space)."""
    pieces: list[str] = []
    for word in text.split(" "):
        pieces.append(word + " ")
    if pieces:
        pieces[-1] = pieces[-1][:-1]
    return [p for p in pieces if p]


class ScriptedEngine:
    def __init__(self, outputs: Sequence[str], *, gate: asyncio.Event | None = None) -> None:
        self.outputs = list(outputs)
        self.calls: list[tuple[list[ChatMessage], GenerationParams, str, str | None]] = []
        self.running: set[str] = set()
        self.aborted: list[str] = []
        self.gate = gate  # when set, each token waits for it (lets tests stop mid-stream)
        self.info = ModelInfo(
            name="scripted", max_model_len=1 << 20, image_tokens=lambda w, h: IMAGE_TOKENS
        )

    def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        request_id: str,
        session_id: str | None = None,
    ) -> AsyncGenerator[GenerationDelta, None]:
        self.calls.append((list(messages), params, request_id, session_id))
        return self._stream(list(messages), params, request_id)

    async def _stream(
        self, messages: list[ChatMessage], params: GenerationParams, request_id: str
    ) -> AsyncGenerator[GenerationDelta, None]:
        if not self.outputs:
            raise EngineError("script exhausted")
        text = self.outputs.pop(0)
        prompt = sum(
            len(p.text.split()) if isinstance(p, TextPart) else IMAGE_TOKENS
            for m in messages
            for p in m.parts
        )
        pieces = tokens_of(text)[: params.max_tokens]
        self.running.add(request_id)
        completed = False
        count = 0
        try:
            stop = None
            for count, piece in enumerate(pieces, 1):
                if self.gate is not None:
                    await self.gate.wait()
                hit = next((s for s in params.stop if s in piece), None)
                if hit:
                    stop = hit
                    break
                last = count == len(pieces)
                finish = ("length" if count >= params.max_tokens else "stop") if last else None
                yield GenerationDelta(piece, count, prompt, 0, finish)
            if stop is not None:
                yield GenerationDelta("", count - 1, prompt, 0, "stop", stop_sequence=stop)
            elif not pieces:
                yield GenerationDelta("", 0, prompt, 0, "stop")
            completed = True
        finally:
            self.running.discard(request_id)
            if not completed:
                self.aborted.append(request_id)

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
