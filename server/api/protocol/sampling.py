"""Request fields both APIs share beyond OpenAI's own: vLLM's sampling extensions.

Load generators and vLLM clients send these; each is honoured with vLLM's meaning (what that
means for a request of several rounds is written next to each) or refused in
`server/api/translate_common.py`, never silently ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class SamplingExtensions(BaseModel):
    # Every round ignores EOS and runs to its token limit (vLLM: generate up to max_tokens).
    ignore_eos: bool = False
    # No round may end (EOS or stop) before the request has generated this many tokens.
    min_tokens: int = Field(0, ge=0)
    top_k: int | None = Field(None, ge=-1)
    min_p: float = Field(0.0, ge=0, le=1)
    repetition_penalty: float = Field(1.0, gt=0, le=2)
    # Token ids that end the request, like `stop` strings.
    stop_token_ids: list[int] | None = None
    # False: the reasoning and answer fields carry the raw text, special tokens included.
    skip_special_tokens: bool = True
    # The loop builds its own prompts: only an empty object is accepted.
    chat_template_kwargs: dict[str, Any] | None = None
