"""One attempt of one generation on one replica: the HTTP request and its token stream.

Why these choices:
- aiohttp, not httpx, carries the streams: every token crosses this hop, and per socket read
  httpx + httpcore + anyio cost 1.8x the CPU of this engine on aiohttp (130 vs 72 us per token,
  against 30 us for a bare asyncio protocol: benchmarks/upstream_read.py). On a machine whose
  cores are shared with the engine, that CPU comes out of the token rate.
- One delta per socket read (`StreamProgress.feed`), read with `readany`.
- Abort = close the HTTP stream; vLLM aborts a request whose client disconnected.
- The stream is read to its end after `[DONE]`, so the connection goes back to the pool: a new
  TCP connection per round costs both sides a connect and the replica a new HTTP protocol.
- Before the first delta every failure is `ReplicaFailed` (the caller may retry elsewhere:
  nothing reached its client); after it, failures are final `EngineError`s. A 4xx other than
  408/429 is the request's fault and final at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Collection
from dataclasses import dataclass

import aiohttp

from server.engines.base import EngineError, GenerationDelta
from server.engines.remote_stream import ReplicaFailed, StreamProgress


@dataclass
class StreamHandle:
    """One `generate` call, as `abort` sees it."""

    response: aiohttp.ClientResponse | None = None
    aborted: bool = False

    def abort(self) -> None:
        """Closing the response wakes a read pending in another task at once (it raises
        ClientConnectionError, which the reader takes as the abort) and closes the connection,
        which makes vLLM abort the request."""
        self.aborted = True
        if self.response is not None:
            self.response.close()


async def stream_attempt(
    client: aiohttp.ClientSession,
    url: str,
    body: bytes,
    request_id: str,
    handle: StreamHandle,
    stop_token_ids: Collection[int] = (),
) -> AsyncGenerator[GenerationDelta, None]:
    """Stream one chat completion from the replica at `url`. Raises `ReplicaFailed` only before
    the first delta; ends with the delta that carries the finish reason (and, for a "stop", the
    caller's stop string or one of `stop_token_ids`)."""
    response = await _post(client, url, body, request_id)
    handle.response = response
    progress = StreamProgress(url, stop_token_ids)
    try:
        await _check_status(response, url)
        # The per-token loop: one read, one `feed`, at most one delta.
        while not progress.done and not handle.aborted:
            data = await response.content.readany()
            if not data:
                break  # the body ended
            delta = progress.feed(data)
            if delta is not None:
                yield delta
        if progress.done:
            await read_to_end(response)
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: bad SSE/JSON
        if not handle.aborted:
            raise _dropped(exc, progress) from exc
    finally:
        handle.response = None
        if response.content.at_eof():
            response.release()  # read to its end: the connection goes back to the pool
        else:
            response.close()  # closing the connection makes vLLM abort the request
    yield _last_delta(progress, handle)


async def _post(
    client: aiohttp.ClientSession, url: str, body: bytes, request_id: str
) -> aiohttp.ClientResponse:
    try:
        return await client.post(
            f"{url}/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json", "X-Request-Id": request_id},
        )
    except (aiohttp.ClientError, OSError) as exc:
        raise ReplicaFailed(f"{type(exc).__name__}: {exc}") from exc


async def _check_status(response: aiohttp.ClientResponse, url: str) -> None:
    if response.status == 200:
        return
    detail = (await response.read()).decode("utf-8", "replace")[:500]
    if response.status >= 500 or response.status in (408, 429):
        raise ReplicaFailed(f"HTTP {response.status}: {detail}")
    raise EngineError(f"replica {url} refused the request: {detail}")


def _dropped(exc: Exception, progress: StreamProgress) -> Exception:
    if not progress.started:
        return ReplicaFailed(f"{type(exc).__name__}: {exc}")
    return EngineError(f"replica {progress.url} dropped the stream: {exc}")


def _last_delta(progress: StreamProgress, handle: StreamHandle) -> GenerationDelta:
    if handle.aborted:
        progress.finish = "abort"
    elif progress.finish is None:
        if not progress.started:
            raise ReplicaFailed("the stream ended before any output")
        raise EngineError(f"replica {progress.url} ended the stream without a finish reason")
    return progress.final()


async def read_to_end(response: aiohttp.ClientResponse, timeout_s: float = 1.0) -> None:
    """Consume what follows `[DONE]` (the chunked terminator), so the connection can be reused.
    A peer that keeps the body open gets its connection closed instead."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while await response.content.readany():
                pass
