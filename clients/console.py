"""What the commands print besides the stream: right-aligned tables and a progress bar.

`vtcr1 bench` and `vtcr1 eval` both end with a table of numbers and show a progress bar while
they run; both come from here so the two reports look alike and change together.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def cell(value: Any, fmt: str = "{:.3f}") -> str:
    """A table cell: `-` for a missing number, `fmt` for a float, else the value as text."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return fmt.format(value)
    return str(value)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns right-aligned to their widest cell, two spaces apart, a dashed rule under the
    header."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def progress(total: int, *, unit: str, enabled: bool) -> Any:
    """A tqdm bar on stderr. disable=None: tqdm turns itself off when stderr is not a terminal,
    so piped or logged runs stay free of control characters."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, file=sys.stderr, disable=None if enabled else True)
