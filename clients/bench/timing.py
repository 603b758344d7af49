"""One timed request of the sweep, turned into a flat record.

Numbers are measured on the client (latency from sending to the stream's end, TTFT to the first
text) and read from the server's `vtc` object (rounds, pages, compression). A failed or
timed-out request is a record too, with its error, so a level's error count is complete.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import openai

from clients.common import REQUEST_ERRORS, error_kind, error_text
from clients.stream import stream_chat


@dataclass(frozen=True)
class Sampling:
    """What every request of the run sends besides its prompt and mode."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    vtc: dict[str, Any]


async def one_request(
    client: openai.AsyncOpenAI,
    model: str,
    prompt: str,
    mode: str,
    sampling: Sampling,
    timeout: float,  # noqa: ASYNC109 - per request, applied with wait_for below
) -> dict[str, Any]:
    """One request as a flat record; failures are records too (never raised)."""
    record: dict[str, Any] = {"mode": mode, "ok": False, "error": None, "error_kind": None}
    start = time.perf_counter()
    try:
        result = await asyncio.wait_for(
            stream_chat(
                client,
                model=model,
                messages=[{"role": "user", "content": prompt}],
                vtc={**sampling.vtc, "mode": mode},
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
            ),
            timeout,
        )
    except REQUEST_ERRORS as exc:
        record.update(
            error=error_text(exc),
            error_kind=error_kind(exc),
            latency_s=round(time.perf_counter() - start, 6),
        )
        return record
    record.update(result.record())
    record["ok"] = True
    return record
