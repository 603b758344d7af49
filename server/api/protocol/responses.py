"""`/v1/responses`, stateless: the request, the response object, its output items, and the
named stream events, as the official SDK parses them (`responses.create`, `responses.stream`).

Output: one `reasoning` item per round (its `content` one `reasoning_text` part with that
round's reasoning), then, when the model answered, one `message` item with the answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from server.api.protocol.common import ErrorDetail, Strict
from server.api.protocol.sampling import ReasoningEffort, SamplingExtensions
from server.api.protocol.vtc import VtcOptions, VtcPageEnvelope, VtcRound, VtcSummary

# --- request ---


class InputText(Strict):
    type: Literal["input_text"]
    text: str
    # With `vtc.compress_input`: this part is the question and stays text.
    vtc_keep: bool = False


class InputImage(Strict):
    type: Literal["input_image"]
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class OutputTextPart(Strict):
    """Text of an earlier assistant turn, as the SDK echoes it back."""

    model_config = ConfigDict(strict=True, extra="ignore")
    type: Literal["output_text"]
    text: str


InputPart = Annotated[InputText | InputImage | OutputTextPart, Field(discriminator="type")]


class InputMessage(Strict):
    # Items the SDK echoes back from an earlier response carry ids and statuses: ignored.
    model_config = ConfigDict(strict=True, extra="ignore")

    type: Literal["message"] = "message"
    role: Literal["user", "system", "developer", "assistant"]
    content: str | list[InputPart]


class ReasoningOptions(Strict):
    effort: ReasoningEffort | None = None
    # Accepted; the reasoning is always returned whole, as `reasoning_text` content.
    summary: Literal["auto", "concise", "detailed"] | None = None


class TextFormat(Strict):
    model_config = ConfigDict(strict=True, extra="allow")
    type: str


class TextOptions(Strict):
    model_config = ConfigDict(strict=True, extra="allow")
    format: TextFormat | None = None


class ResponsesRequest(SamplingExtensions):
    model_config = ConfigDict(strict=True, extra="allow")

    model: str
    input: str | list[InputMessage] = Field(min_length=1)
    instructions: str | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    seed: int | None = Field(None, ge=-(2**63), le=2**64 - 1)
    stream: bool = False
    store: bool | None = None
    background: bool | None = None
    previous_response_id: str | None = None
    conversation: Any = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    include: list[str] | None = None
    text: TextOptions | None = None
    reasoning: ReasoningOptions | None = None
    truncation: Literal["auto", "disabled"] | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    metadata: dict[str, str] | None = None
    user: str | None = None
    prompt: Any = None
    vtc: VtcOptions | None = None

    def unknown_fields(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())


# --- response ---


class ReasoningText(BaseModel):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class ReasoningItem(BaseModel):
    id: str
    type: Literal["reasoning"] = "reasoning"
    summary: list[Any] = Field(default_factory=list)
    content: list[ReasoningText] = Field(default_factory=list)
    status: Literal["in_progress", "completed", "incomplete"]


class OutputText(BaseModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = Field(default_factory=list)
    logprobs: list[Any] = Field(default_factory=list)


class MessageItem(BaseModel):
    id: str
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    status: Literal["in_progress", "completed", "incomplete"]
    content: list[OutputText] = Field(default_factory=list)


OutputItem = Annotated[ReasoningItem | MessageItem, Field(discriminator="type")]


class InputTokensDetails(BaseModel):
    cached_tokens: int


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int


class ResponseUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class IncompleteDetails(BaseModel):
    reason: Literal["max_output_tokens"]


class TextConfig(BaseModel):
    format: dict[str, str] = Field(default_factory=lambda: {"type": "text"})


class ReasoningConfig(BaseModel):
    effort: ReasoningEffort | None = None
    summary: str | None = None


class ResponseObject(BaseModel):
    """The response. `vtc` (our extension) is there once the response has ended."""

    id: str
    object: Literal["response"] = "response"
    created_at: int
    completed_at: int | None = None
    status: Literal["in_progress", "completed", "incomplete", "failed"]
    incomplete_details: IncompleteDetails | None = None
    error: ErrorDetail | None = None
    model: str
    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float
    top_p: float
    output: list[OutputItem] = Field(default_factory=list)
    output_text: str = ""
    parallel_tool_calls: bool = False
    tool_choice: Literal["none"] = "none"
    tools: list[Any] = Field(default_factory=list)
    store: bool = False
    background: bool = False
    previous_response_id: None = None
    truncation: Literal["auto", "disabled"] = "disabled"
    text: TextConfig = Field(default_factory=TextConfig)
    reasoning: ReasoningConfig = Field(default_factory=ReasoningConfig)
    metadata: dict[str, str] = Field(default_factory=dict)
    user: str | None = None
    usage: ResponseUsage | None = None
    vtc: VtcSummary | None = Field(None, exclude_if=lambda v: v is None)


# --- stream events (each also the SSE event name) ---


class _Event(BaseModel):
    sequence_number: int


class ResponseLifecycleEvent(_Event):
    type: Literal["response.created", "response.in_progress", "response.completed"]
    response: ResponseObject


class OutputItemEvent(_Event):
    type: Literal["response.output_item.added", "response.output_item.done"]
    output_index: int
    item: OutputItem


class ContentPartEvent(_Event):
    type: Literal["response.content_part.added", "response.content_part.done"]
    item_id: str
    output_index: int
    content_index: int
    part: ReasoningText | OutputText


class ReasoningTextDeltaEvent(_Event):
    type: Literal["response.reasoning_text.delta"] = "response.reasoning_text.delta"
    item_id: str
    output_index: int
    content_index: int = 0
    delta: str


class ReasoningTextDoneEvent(_Event):
    type: Literal["response.reasoning_text.done"] = "response.reasoning_text.done"
    item_id: str
    output_index: int
    content_index: int = 0
    text: str


class OutputTextDeltaEvent(_Event):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    item_id: str
    output_index: int
    content_index: int = 0
    delta: str
    logprobs: list[Any] = Field(default_factory=list)


class OutputTextDoneEvent(_Event):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    item_id: str
    output_index: int
    content_index: int = 0
    text: str
    logprobs: list[Any] = Field(default_factory=list)


class VtcRoundEvent(_Event):
    """Ours: a round's numbers when it ends (the SDK passes unknown events through)."""

    type: Literal["response.vtc.round"] = "response.vtc.round"
    vtc: VtcRound


class VtcPageEvent(_Event):
    """Ours: a page the moment it is made (`vtc.stream_pages`)."""

    type: Literal["response.vtc.page"] = "response.vtc.page"
    vtc: VtcPageEnvelope


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    code: str | None
    message: str
    param: str | None


ResponseStreamEvent = Annotated[
    ResponseLifecycleEvent
    | OutputItemEvent
    | ContentPartEvent
    | ReasoningTextDeltaEvent
    | ReasoningTextDoneEvent
    | OutputTextDeltaEvent
    | OutputTextDoneEvent
    | VtcRoundEvent
    | VtcPageEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
