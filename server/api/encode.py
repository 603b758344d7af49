"""JSON for the wire, and byte templates for the per-token events.

Every token a client receives is one SSE event, so building it is on the per-token path: a
pydantic model per token would cost more than everything else the gateway does for it. The
shapes stay defined once, by the protocol models: a `Template` is made from a model instance
whose variable strings are unique markers, dumped once; per token only the strings are
JSON-escaped (the stdlib's C escaper) and joined with the constant bytes between them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from json.encoder import encode_basestring
from typing import Any

from pydantic import BaseModel

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any) -> bytes:
    """Compact JSON (non-ASCII kept as UTF-8) of plain data or a pydantic model."""
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return _encoder.encode(value).encode()


def sse(value: Any) -> bytes:
    return b"data: " + dumps(value) + b"\n\n"


def sse_event(name: str, value: Any) -> bytes:
    """A named SSE event (the Responses API names each event by its type)."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(value) + b"\n\n"


def _quote(text: str) -> bytes:
    return encode_basestring(text).encode("utf-8", "replace")


def marker(n: int) -> str:
    """A string no real text contains, to stand for the n-th variable of a template."""
    return f"\x00vtcr1-slot-{n}\x00"


class Template:
    """Bytes of a model dump with holes where values go.

    `Template(model, slots)`: `model` holds `marker(i)` at every place slot `i` goes (a slot may
    appear more than once; a model with an integer slot is made with `model_construct`).
    `render(values)` encodes each value once (strings JSON-escaped, integers as numbers) and
    fills the holes.
    """

    def __init__(self, model: BaseModel, slots: int, *, prefix: bytes = b"", suffix: bytes = b""):
        text = model.model_dump_json(warnings=False)
        self._parts: list[bytes] = []
        self._order: list[int] = []
        quoted = [json.dumps(marker(i))[1:-1] for i in range(slots)]  # as the dump escapes it
        rest = text
        while True:
            found = [(rest.find(f'"{q}"'), i) for i, q in enumerate(quoted)]
            hits = [(pos, i) for pos, i in found if pos >= 0]
            if not hits:
                break
            pos, i = min(hits)
            self._parts.append(rest[:pos].encode())
            self._order.append(i)
            rest = rest[pos + len(quoted[i]) + 2 :]
        self._parts.append(rest.encode())
        self._parts[0] = prefix + self._parts[0]
        self._parts[-1] = self._parts[-1] + suffix
        if sorted(set(self._order)) != list(range(slots)):
            raise ValueError("every slot must appear in the model")

    def render(self, values: Sequence[str | int]) -> bytes:
        quoted = [
            str(v).encode()
            if isinstance(v, int)
            else encode_basestring(v).encode("utf-8", "replace")
            for v in values
        ]
        parts = self._parts
        out = [parts[0]]
        for k, slot in enumerate(self._order):
            out.append(quoted[slot])
            out.append(parts[k + 1])
        return b"".join(out)
