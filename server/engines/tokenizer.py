"""The model's tokenizer and chat template, read locally (no weights, no torch): what both
engines answer `tokenize`, `detokenize` and `chat_template` with, and where `ModelInfo`'s
special tokens come from.

The calls are the ones `vllm serve` makes for `/tokenize` (`tokenizer(text,
add_special_tokens=...)`) and `/detokenize` (`tokenizer.decode(ids)`, special tokens kept), so
the answers are the same ids and text (tests/engines/test_engine_extensions.py checks it against
a real `vllm serve`). Tokenizing runs in a worker thread: a short text takes ~0.35 ms, but a
1 MB one took 3.2 s on the 2-core test machine, which must not stall every stream of the event
loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from server.engines.base import ChatMessage
from server.engines.prompt import render_hf_prompt


class ModelTokenizer:
    """Wraps a Hugging Face processor (or a bare tokenizer: the remote engine runs where torch,
    which GLM-4.1V's full processor needs, may be missing)."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner
        self.tokenizer: Any = getattr(owner, "tokenizer", owner)

    @classmethod
    def load(cls, model: str) -> ModelTokenizer:
        """The tokenizer of `model` (its chat template included); blocking, ~0.2 s."""
        from transformers import AutoTokenizer

        return cls(AutoTokenizer.from_pretrained(model))

    def encode(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(tokens)))

    async def tokenize(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return await asyncio.to_thread(self.encode, text, add_special_tokens=add_special_tokens)

    async def detokenize(self, tokens: Sequence[int]) -> str:
        return await asyncio.to_thread(self.decode, tokens)

    def chat_template(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        return render_hf_prompt(self._owner, messages, add_generation_prompt=add_generation_prompt)

    def special_tokens(self) -> frozenset[str]:
        """Every special-token string: the named ones (bos, eos, ...) and the added tokens
        flagged special (GLM's role and image markers), the ones vLLM's
        `skip_special_tokens` drops. `<think>`-style added tokens that are not special stay."""
        named = set(getattr(self.tokenizer, "all_special_tokens", ()))
        added = getattr(self.tokenizer, "added_tokens_decoder", {}) or {}
        named.update(str(t.content) for t in added.values() if getattr(t, "special", False))
        return frozenset(named)
