"""Shapes shared by every endpoint: the error body, the model list, the strict base class."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Request parts: strict types (a string where a number belongs is a 400, not coerced) and
    no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error body, for every failure before the first byte and in-band in streams."""

    error: ErrorDetail


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "vtcr1"
    # vLLM's extras: where the model (and its tokenizer) lives, and its context length.
    root: str | None = None
    parent: str | None = None
    max_model_len: int | None = None


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
