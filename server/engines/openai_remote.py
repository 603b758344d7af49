"""The `openai` engine: one or more remote `vllm serve` replicas over HTTP (SSE streaming).

Why these choices:
- Session affinity: every round of one VTC request re-sends the earlier pages; only the replica
  that served the previous round has them in its prefix and encoder caches.
- New sessions go to the replica with the fewest requests in flight (ties rotate).
- A replica that fails before the first token is retried on another one: nothing reached the
  caller, so the retry is invisible. After the first token the failure is final.
- Abort = close the HTTP stream; vLLM aborts a request whose client disconnected.
- Token counts come from vLLM's usage (`continuous_usage_stats` puts them on every chunk, so the
  first delta already knows the prompt size; `--enable-prompt-tokens-details` on the replica adds
  the cached-token count).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import httpx

from server.engines.base import (
    ChatMessage,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
)
from server.engines.prompt import openai_messages

log = logging.getLogger(__name__)


@dataclass
class Replica:
    url: str
    in_flight: int = 0
    down_until: float = 0.0
    failures: int = 0

    def is_down(self, now: float) -> bool:
        return now < self.down_until


@dataclass
class _Session:
    replica: Replica
    last_used: float
    active: int = 0


_Item = str | BaseException | None  # an SSE payload, a read error, or the end


@dataclass
class _Stream:
    """One `generate` call, as `abort` sees it."""

    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None
    aborted: bool = False

    def abort(self) -> None:
        self.aborted = True
        self.queue.put_nowait(None)
        if self.reader is not None:
            self.reader.cancel()


@dataclass
class _Progress:
    """Parses the chunks of one chat-completion stream into deltas."""

    started: bool = False
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    finish: str | None = None
    stop_sequence: str | None = None

    def feed(self, chunk: dict[str, Any], url: str) -> GenerationDelta | None:
        if "error" in chunk and not chunk.get("choices"):
            error = str(chunk["error"])
            if not self.started:
                raise _ReplicaFailed(error)
            raise EngineError(f"replica {url} failed mid-stream: {error}")
        usage = chunk.get("usage") or {}
        if usage:
            self.prompt_tokens = int(usage.get("prompt_tokens") or self.prompt_tokens)
            self.generated_tokens = int(usage.get("completion_tokens") or self.generated_tokens)
            details = usage.get("prompt_tokens_details") or {}
            self.cached_tokens = int(details.get("cached_tokens") or self.cached_tokens)
        text = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("reasoning") or delta.get("reasoning_content"):
                raise EngineError(
                    "the replica splits out reasoning (--reasoning-parser); the VTC loop needs "
                    "the raw text: run `vllm serve` without a reasoning parser"
                )
            text += delta.get("content") or ""
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
                reason = choice.get("stop_reason")
                self.stop_sequence = reason if isinstance(reason, str) else None
        # The first delta goes out once the counts are known; later ones only carry text.
        if (self.started and not text) or (not self.started and not usage):
            return None
        self.started = True
        return GenerationDelta(text, self.generated_tokens, self.prompt_tokens, self.cached_tokens)

    def final(self) -> GenerationDelta:
        return GenerationDelta(
            "",
            self.generated_tokens,
            self.prompt_tokens,
            self.cached_tokens,
            finish_reason=self.finish,
            stop_sequence=self.stop_sequence if self.finish == "stop" else None,
        )


class _ReplicaFailed(Exception):
    """A replica could not start the request; another one may."""


class OpenAIRemoteEngine:
    def __init__(
        self,
        base_urls: Sequence[str],
        info: ModelInfo,
        *,
        client: httpx.AsyncClient | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 600.0,
        session_ttl_s: float = 900.0,
        max_sessions: int = 100_000,
        down_for_s: float = 10.0,
    ) -> None:
        if not base_urls:
            raise ValueError("the openai engine needs at least one backend URL")
        self.info = info
        self.replicas = [Replica(url.rstrip("/")) for url in base_urls]
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )
        self._owns_client = client is None
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._streams: dict[str, _Stream] = {}
        self._session_ttl_s = session_ttl_s
        self._max_sessions = max_sessions
        self._down_for_s = down_for_s
        self._rotation = itertools.count()

    # --- routing ---

    def replica_for(
        self, session_id: str | None, exclude: AbstractSet[str] = frozenset()
    ) -> Replica:
        """The session's replica if it has one and it may be used, else the least-busy one."""
        now = time.monotonic()
        self._prune_sessions(now)
        if session_id is not None and (sess := self._sessions.get(session_id)) is not None:
            r = sess.replica
            if r.url not in exclude and not r.is_down(now):
                return r
        candidates = [r for r in self.replicas if r.url not in exclude]
        if not candidates:
            raise EngineError("no replica left to try", retryable=True)
        up = [r for r in candidates if not r.is_down(now)] or candidates
        least = min(r.in_flight for r in up)
        tied = [r for r in up if r.in_flight == least]
        return tied[next(self._rotation) % len(tied)]

    def session_replica(self, session_id: str) -> str | None:
        sess = self._sessions.get(session_id)
        return sess.replica.url if sess else None

    def _bind(self, session_id: str | None, replica: Replica) -> _Session | None:
        if session_id is None:
            return None
        now = time.monotonic()
        sess = self._sessions.get(session_id)
        if sess is None:
            sess = _Session(replica, now)
            self._sessions[session_id] = sess
        sess.replica = replica
        sess.last_used = now
        self._sessions.move_to_end(session_id)
        return sess

    def _prune_sessions(self, now: float) -> None:
        """Forget idle sessions past their TTL, and the oldest idle ones past the size cap."""
        while self._sessions:
            key, sess = next(iter(self._sessions.items()))
            expired = now - sess.last_used > self._session_ttl_s
            if sess.active == 0 and (expired or len(self._sessions) > self._max_sessions):
                del self._sessions[key]
            else:
                break

    # --- Engine port ---

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        request_id: str,
        session_id: str | None = None,
    ) -> AsyncGenerator[GenerationDelta, None]:
        body = self._body(messages, params, request_id)
        stream = _Stream()
        self._streams[request_id] = stream
        tried: set[str] = set()
        errors: list[str] = []
        try:
            while True:
                if stream.aborted:
                    yield GenerationDelta("", 0, 0, finish_reason="abort")
                    return
                try:
                    replica = self.replica_for(session_id, tried)
                except EngineError:
                    raise EngineError(
                        "every replica failed before the first token: " + "; ".join(errors),
                        retryable=True,
                    ) from None
                tried.add(replica.url)
                sess = self._bind(session_id, replica)
                replica.in_flight += 1
                if sess:
                    sess.active += 1
                try:
                    # aclosing: when our caller closes us, the HTTP stream closes now, not
                    # whenever the garbage collector finalises the inner generator.
                    async with contextlib.aclosing(
                        self._stream_from(replica, body, stream)
                    ) as deltas:
                        async for delta in deltas:
                            yield delta
                    replica.failures = 0
                    return
                except _ReplicaFailed as exc:
                    errors.append(f"{replica.url}: {exc}")
                    replica.failures += 1
                    replica.down_until = time.monotonic() + self._down_for_s
                    log.warning("replica %s failed before the first token: %s", replica.url, exc)
                finally:
                    replica.in_flight -= 1
                    if sess:
                        sess.active -= 1
                        sess.last_used = time.monotonic()
        finally:
            self._streams.pop(request_id, None)

    async def _stream_from(
        self, replica: Replica, body: dict[str, Any], stream: _Stream
    ) -> AsyncGenerator[GenerationDelta, None]:
        """One attempt on one replica. Raises `_ReplicaFailed` only before the first delta.

        A reader task pumps the SSE payloads into a queue; `abort` cancels that task (which
        interrupts a pending read at once) and ends the queue, so an abort from another task
        takes effect even while no token is arriving."""
        try:
            request = self._client.build_request(
                "POST",
                f"{replica.url}/v1/chat/completions",
                json=body,
                headers={"X-Request-Id": body["request_id"]},
            )
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _ReplicaFailed(f"{type(exc).__name__}: {exc}") from exc
        state = _Progress()
        stream.queue = asyncio.Queue()  # fresh per attempt: nothing left over from a failed one
        reader: asyncio.Task[None] | None = None
        try:
            if response.status_code != 200:
                detail = (await response.aread()).decode("utf-8", "replace")[:500]
                if response.status_code >= 500 or response.status_code in (408, 429):
                    raise _ReplicaFailed(f"HTTP {response.status_code}: {detail}")
                raise EngineError(f"replica {replica.url} refused the request: {detail}")
            reader = asyncio.create_task(_pump(response, stream.queue))
            stream.reader = reader
            while not stream.aborted:
                item = await stream.queue.get()
                if item is None or item == "[DONE]":
                    break
                if isinstance(item, BaseException):
                    raise item
                delta = state.feed(json.loads(item), replica.url)
                if delta is not None:
                    yield delta
        except (httpx.HTTPError, httpx.StreamError) as exc:
            if not stream.aborted:
                if not state.started:
                    raise _ReplicaFailed(f"{type(exc).__name__}: {exc}") from exc
                raise EngineError(f"replica {replica.url} dropped the stream: {exc}") from exc
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            # Closing the response closes the connection: vLLM aborts the request.
            await response.aclose()
        if stream.aborted:
            state.finish = "abort"
        elif state.finish is None:
            if not state.started:
                raise _ReplicaFailed("the stream ended before any output")
            raise EngineError(f"replica {replica.url} ended the stream without a finish reason")
        yield state.final()

    def _body(
        self, messages: Sequence[ChatMessage], params: GenerationParams, request_id: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.info.name,
            "messages": openai_messages(messages),
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "stream": True,
            "stream_options": {"include_usage": True, "continuous_usage_stats": True},
            # vLLM extras: keep </think> & co. in the text; one id end to end in the logs.
            "skip_special_tokens": params.skip_special_tokens,
            "spaces_between_special_tokens": False,
            "request_id": request_id,
        }
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = list(params.stop)
        return body

    async def abort(self, request_id: str) -> None:
        stream = self._streams.get(request_id)
        if stream is not None:
            stream.abort()

    async def check_health(self) -> None:
        """Fine while at least one replica answers `/health`; replicas that do not are kept off
        new sessions for a while."""
        results = await asyncio.gather(*(self._probe(r) for r in self.replicas))
        if not any(results):
            raise EngineError("no replica is healthy: " + ", ".join(self.urls), retryable=True)

    async def _probe(self, replica: Replica) -> bool:
        try:
            ok = (await self._client.get(f"{replica.url}/health", timeout=5.0)).status_code == 200
        except httpx.HTTPError:
            ok = False
        if ok:
            replica.down_until = 0.0
        else:
            replica.down_until = time.monotonic() + self._down_for_s
        return ok

    @property
    def urls(self) -> list[str]:
        return [r.url for r in self.replicas]

    async def aclose(self) -> None:
        for stream in list(self._streams.values()):
            stream.abort()
        if self._owns_client:
            await self._client.aclose()


async def _pump(response: httpx.Response, queue: asyncio.Queue[_Item]) -> None:
    """Put the `data:` payloads of a server-sent-event stream on the queue, then None (or the
    read error)."""
    try:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                queue.put_nowait(line[5:].strip())
                # A read of already-buffered bytes does not suspend: without this, a replica
                # that streams faster than we parse keeps this task running and starves the
                # event loop (the consumer saw its first delta only when the stream ended).
                await asyncio.sleep(0)
    except (httpx.HTTPError, httpx.StreamError) as exc:
        queue.put_nowait(exc)
        return
    queue.put_nowait(None)


async def fetch_served_model(
    base_urls: Sequence[str], timeout_s: float = 10.0
) -> tuple[str, int | None] | None:
    """Name and context length the first answering replica serves (its `/v1/models`)."""
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        for url in base_urls:
            try:
                resp = await client.get(f"{url.rstrip('/')}/v1/models")
                resp.raise_for_status()
                data = resp.json()["data"]
            except (httpx.HTTPError, KeyError, ValueError):
                continue
            if data:
                card = data[0]
                max_len = card.get("max_model_len")
                return str(card["id"]), int(max_len) if max_len else None
    return None
