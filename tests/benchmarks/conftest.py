"""The benchmarks are scripts, not a package: run as `python benchmarks/x.py`, their folder is
on `sys.path` and they import each other by bare name (as `capacity.py` does). The same here."""

from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = str(Path(__file__).resolve().parents[2] / "benchmarks")
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)
