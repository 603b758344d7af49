"""How many LLM tokens an image costs, decided by the model's own Hugging Face processor.

The loop budgets rounds with this number, so it must be exact, not estimated: we ask the same
image processor code vLLM runs (resize to patch multiples within the configured pixel bounds,
then merge), with the same `mm_processor_kwargs`. Only the image processor is loaded, in its
PIL backend: GLM-4.1V's full processor also builds a video processor that needs torch and
torchvision, which the slim gateway image (remote engine) does not have. Loaded lazily, on the
first image counted; results are memoised per size.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any


class ImageTokenCounter:
    def __init__(
        self,
        model: str,
        *,
        mm_processor_kwargs: dict[str, Any] | None = None,
        processor: Any = None,
        trust_remote_code: bool = False,
    ) -> None:
        self._model = model
        self._kwargs = dict(mm_processor_kwargs or {})
        self._processor = processor
        self._trust_remote_code = trust_remote_code
        self._lock = threading.Lock()
        self._count = lru_cache(maxsize=4096)(self._count_uncached)

    @property
    def image_processor(self) -> Any:
        with self._lock:
            if self._processor is None:
                from transformers import AutoImageProcessor

                self._processor = AutoImageProcessor.from_pretrained(
                    self._model, trust_remote_code=self._trust_remote_code, backend="pil"
                )
            return getattr(self._processor, "image_processor", self._processor)

    def __call__(self, width: int, height: int) -> int:
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        return int(self._count(int(width), int(height)))

    def _count_uncached(self, width: int, height: int) -> int:
        # Patches after the processor's resize, merged merge x merge into one LLM token
        # (GLM-4.1V and the Qwen-VL family alike).
        image_processor = self.image_processor
        patches = image_processor.get_number_of_image_patches(height, width, dict(self._kwargs))
        merge = int(self._kwargs.get("merge_size", image_processor.merge_size))
        return int(patches) // (merge * merge)
