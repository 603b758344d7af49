"""`/v1/chat/completions`: the request body (as strict as OpenAI's own API) and the response,
chunk and usage shapes.

Types are strict, ranges are OpenAI's, unknown top-level fields are accepted and logged (the SDK
sends new ones), and values that would change the meaning of the request without us honouring
them are refused (`server/api/chat/translate.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.api.protocol.common import Strict
from server.api.protocol.sampling import ReasoningEffort, SamplingExtensions
from server.api.protocol.vtc import VtcOptions, VtcPageEnvelope, VtcRound, VtcSummary

Role = Literal["system", "developer", "user", "assistant"]


def _absent(value: object) -> bool:
    return value is None


# --- request ---


class ImageURL(Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class TextContent(Strict):
    type: Literal["text"]
    text: str
    # With `vtc.compress_input`: this part is the question and stays text.
    vtc_keep: bool = False


class ImageContent(Strict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextContent | ImageContent, Field(discriminator="type")]


class Message(Strict):
    # Assistant turns from earlier completions may carry our reasoning fields; they are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(Strict):
    include_usage: bool = False
    continuous_usage_stats: bool = False


class ChatCompletionRequest(SamplingExtensions):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1)
    stop: str | list[str] | None = None
    user: str | None = None
    n: int | None = Field(None, ge=1, le=128)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    logit_bias: dict[str, float] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: ReasoningEffort | None = None
    vtc: VtcOptions | None = None

    def unknown_fields(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())


# --- response ---


class PromptTokensDetails(BaseModel):
    cached_tokens: int


class CompletionTokensDetails(BaseModel):
    # Tokens of reasoning: all of them but the final answer's.
    reasoning_tokens: int


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails
    completion_tokens_details: CompletionTokensDetails


class AssistantMessage(BaseModel):
    """The reply. The reasoning goes in `reasoning_content` and/or `reasoning`, as the server's
    `--reasoning-fields` says (the other one is left out)."""

    role: Literal["assistant"] = "assistant"
    content: str
    reasoning_content: str | None = Field(None, exclude_if=_absent)
    reasoning: str | None = Field(None, exclude_if=_absent)


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    vtc: VtcSummary


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = Field(None, exclude_if=_absent)
    content: str | None = Field(None, exclude_if=_absent)
    reasoning_content: str | None = Field(None, exclude_if=_absent)
    reasoning: str | None = Field(None, exclude_if=_absent)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: ChunkDelta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One SSE event. Our `vtc` rides on chunks of its own: a round's progress marker (with an
    empty delta), a page (`stream_pages`, no choices), and the summary on the final chunk."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = Field(None, exclude_if=_absent)
    vtc: VtcSummary | VtcRound | VtcPageEnvelope | None = Field(None, exclude_if=_absent)
