"""What clients see of the model's text: no special tokens and no control characters by
default (vLLM's `skip_special_tokens` convention), the raw text on request.

The loop itself always works on the raw text (the pages render it as the reference does,
special tokens kept); cleaning happens only at the wire. Deltas from the engines end on token
boundaries, so a special token is never split between two of them, and cleaning each delta gives
the same text as cleaning the whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

# C0 controls but tab, newline and carriage return; DEL; C1 controls.
_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"


def _identity(text: str) -> str:
    return text


def text_cleaner(
    special_tokens: Iterable[str], *, skip_special_tokens: bool
) -> Callable[[str], str]:
    """A function that strips the special tokens and control characters from a text."""
    if not skip_special_tokens:
        return _identity
    tokens = sorted({t for t in special_tokens if t}, key=len, reverse=True)
    pattern = re.compile("|".join([*(re.escape(t) for t in tokens), f"[{_CONTROL}]"]))

    def clean(text: str) -> str:
        return pattern.sub("", text)

    return clean
