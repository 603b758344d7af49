"""The embedded tiny model: a randomly initialised GLM-4.1V built locally, offline, in seconds.

`vtcr1 serve` uses it when no `--model` is given, and the tests run a real vLLM engine on it.
"""

from __future__ import annotations

from server.tiny_model.build import (
    MAX_IMAGE_TOKENS,
    MODEL_NAME,
    RECIPE_VERSION,
    build_tiny_model,
    ensure_tiny_model,
)
from server.tiny_model.cli import main

__all__ = [
    "MAX_IMAGE_TOKENS",
    "MODEL_NAME",
    "RECIPE_VERSION",
    "build_tiny_model",
    "ensure_tiny_model",
    "main",
]
