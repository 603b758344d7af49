"""The request body of `/v1/chat/completions`, as strict as OpenAI's own API.

Types are strict (a string where a number or boolean belongs is a 400, not coerced), ranges are
OpenAI's, unknown top-level fields are accepted and logged (the SDK sends new ones), and values
that would change the meaning of the request without us honouring them are refused
(`server/api/translate.py`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "developer", "user", "assistant"]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ImageURL(_Strict):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class TextContent(_Strict):
    type: Literal["text"]
    text: str


class ImageContent(_Strict):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextContent | ImageContent, Field(discriminator="type")]


class Message(_Strict):
    # Assistant turns from earlier completions may carry our reasoning fields; they are ignored.
    model_config = ConfigDict(strict=True, extra="ignore")

    role: Role
    content: str | list[ContentPart] | None = None
    name: str | None = None


class StreamOptions(_Strict):
    include_usage: bool = False
    continuous_usage_stats: bool | None = None


class VtcOptions(_Strict):
    """The `vtc` extension object (sent with the OpenAI SDK's `extra_body`)."""

    mode: Literal["vtc", "baseline"] | None = None
    max_rounds: int | None = Field(None, ge=1, le=64)
    round_max_tokens: int | None = Field(None, ge=1)
    image_order: Literal["images_first", "question_first"] | None = None
    return_pages: bool = False


class ChatCompletionRequest(BaseModel):
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
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    response_format: dict[str, Any] | None = None
    vtc: VtcOptions | None = None

    def unknown_fields(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())
