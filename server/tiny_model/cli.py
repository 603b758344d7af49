"""`vtcr1 tiny-model DIR`: write the tiny model to DIR (for `vllm serve DIR` or inspection)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vtcr1 tiny-model",
        description="Build the randomly initialised tiny GLM-4.1V (offline, deterministic).",
    )
    parser.add_argument("out_dir", type=Path, help="directory to write the model into")
    args = parser.parse_args(argv)

    from server.tiny_model.build import build_tiny_model

    start = time.perf_counter()
    out = build_tiny_model(args.out_dir)
    print(f"tiny model written to {out} in {time.perf_counter() - start:.1f} s")
    return 0
