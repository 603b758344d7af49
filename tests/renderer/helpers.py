"""Shared helpers for the renderer tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def assert_same_pages(ours: list[Image.Image], ref: list[Image.Image], label: str = "") -> None:
    """Same page count, sizes and gray pixels (mean abs diff 0)."""
    assert len(ours) == len(ref), f"{label}: {len(ours)} pages vs reference {len(ref)}"
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert a.mode == "RGB"
        assert a.size == b.size, f"{label} page {i}: size {a.size} vs reference {b.size}"
        ga = np.asarray(a.convert("L"), dtype=np.int16)
        gb = np.asarray(b.convert("L"), dtype=np.int16)
        diff = np.abs(ga - gb)
        assert diff.max() == 0, (
            f"{label} page {i}: {int((diff > 0).sum())} pixels differ, max {int(diff.max())}, "
            f"first rows {np.flatnonzero(diff.any(axis=1))[:5].tolist()}"
        )
