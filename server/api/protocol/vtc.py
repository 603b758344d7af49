"""The `vtc` extension: the request object (chat completions and responses alike) and the
objects the response carries (per-round progress, pages, the request's summary)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from server.api.protocol.common import Strict


def _absent(value: object) -> bool:
    return value is None


class CompressInputOptions(Strict):
    """`vtc.compress_input`: render long input text to pages before round 1."""

    min_tokens: int = Field(2048, ge=1)
    scope: Literal["documents", "history", "all"] = "documents"


class VtcOptions(Strict):
    """The `vtc` request object (sent with the OpenAI SDK's `extra_body`)."""

    mode: Literal["vtc", "baseline"] | None = None
    max_rounds: int | None = Field(None, ge=1, le=64)
    round_max_tokens: int | None = Field(None, ge=1)
    image_order: Literal["images_first", "question_first"] | None = None
    return_pages: bool = False
    stream_pages: bool = False
    compress_input: CompressInputOptions | None = None


class VtcRound(BaseModel):
    """One round's numbers: a `per_round` entry, and the progress marker sent after the round.
    `page_images` only with `return_pages`."""

    round: int
    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    pages: int
    vision_tokens: int
    ttft_s: float
    latency_s: float
    render_s: float
    gap_s: float | None
    page_images: list[str] | None = Field(None, exclude_if=_absent)


class VtcPage(BaseModel):
    """One page of optical memory, streamed the moment the renderer releases it
    (`stream_pages`). `index` is 1-based within the request, per kind."""

    round: int
    index: int
    kind: Literal["reasoning", "input"] = "reasoning"
    vision_tokens: int
    width: int
    height: int
    url: str


class VtcPageEnvelope(BaseModel):
    page: VtcPage


class VtcInput(BaseModel):
    """What `compress_input` did: pages made from the input, what their text would have cost
    (the model's tokenizer), what they cost as images, and the time rendering took."""

    pages: int
    text_tokens: int
    vision_tokens: int
    compression_ratio: float | None
    render_s: float


class VtcSummary(BaseModel):
    """The request's `vtc` object (non-streamed response, and the final stream chunk)."""

    mode: Literal["vtc", "baseline"]
    rounds: int
    finished: bool
    pages: int
    reasoning_tokens: int
    vision_tokens: int
    compression_ratio: float | None
    final_answer: str | None
    ttft_s: float | None
    latency_s: float
    per_round: list[VtcRound]
    page_images: list[str] | None = Field(None, exclude_if=_absent)
    input: VtcInput | None = Field(None, exclude_if=_absent)
