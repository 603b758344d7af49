"""`/tokenize` and `/detokenize` with vLLM's request and response shapes (load generators
such as `vllm bench serve` use them to align prompt lengths with the server's tokenizer)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from server.api.protocol.chat import Message
from server.api.protocol.common import Strict


class _TokenizeBase(Strict):
    model_config = ConfigDict(strict=True, extra="ignore")
    model: str | None = None
    return_token_strs: bool | None = False


class TokenizeCompletionRequest(_TokenizeBase):
    prompt: str
    add_special_tokens: bool = True


class TokenizeChatRequest(_TokenizeBase):
    """The messages as the model's chat template renders them (the VTC loop's own system
    prompt is not added: this is the template alone, as vLLM does it)."""

    messages: list[Message] = Field(min_length=1)
    add_generation_prompt: bool = True
    add_special_tokens: bool = False


TokenizeRequest = TokenizeCompletionRequest | TokenizeChatRequest


class TokenizeResponse(BaseModel):
    count: int
    max_model_len: int
    tokens: list[int]
    token_strs: list[str] | None = None


class DetokenizeRequest(Strict):
    model_config = ConfigDict(strict=True, extra="ignore")
    model: str | None = None
    tokens: list[Annotated[int, Field(ge=0, le=2**63 - 1)]]


class DetokenizeResponse(BaseModel):
    prompt: str
