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
- aiohttp, not httpx, carries the streams: every token crosses this hop, and per socket read
  httpx + httpcore + anyio cost 1.8x the CPU of this engine on aiohttp (130 vs 72 us per token,
  against 30 us for a bare asyncio protocol: benchmarks/upstream_read.py). On a machine whose
  cores are shared with the engine, that CPU comes out of the token rate.
- All the events of one socket read become one delta: under load the gateway catches up in
  one step instead of one per token.
- The stream is read to its end after `[DONE]`, so the connection goes back to the pool: a new
  TCP connection per round costs both sides a connect and the replica a new HTTP protocol.
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
from dataclasses import dataclass
from typing import Any

import aiohttp

from server.engines.base import (
    ChatMessage,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
)
from server.engines.prompt import openai_messages
from server.engines.sse import SseDecoder

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


@dataclass
class _Stream:
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


@dataclass
class _Progress:
    """Parses the chunks of one chat-completion stream into deltas."""

    started: bool = False
    prompt_tokens: int = 0
    cached_tokens: int = 0
    generated_tokens: int = 0
    finish: str | None = None
    stop_sequence: str | None = None

    def feed(self, chunks: list[dict[str, Any]], url: str) -> GenerationDelta | None:
        """One delta for the chunks of one read (None when they carry nothing new)."""
        text = ""
        counted = False
        for chunk in chunks:
            text += self._chunk_text(chunk, url)
            counted = counted or bool(chunk.get("usage"))
        # The first delta goes out once the counts are known; later ones only carry text.
        if (self.started and not text) or (not self.started and not counted):
            return None
        self.started = True
        return GenerationDelta(text, self.generated_tokens, self.prompt_tokens, self.cached_tokens)

    def _chunk_text(self, chunk: dict[str, Any], url: str) -> str:
        if "error" in chunk and not chunk.get("choices"):
            error = str(chunk["error"])
            if not self.started:
                raise _ReplicaFailed(error)
            raise EngineError(f"replica {url} failed mid-stream: {error}")
        usage = chunk.get("usage")
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
        return text

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
        session: aiohttp.ClientSession | None = None,
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
        self._http = session
        self._owns_http = session is None
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._streams: dict[str, _Stream] = {}
        self._session_ttl_s = session_ttl_s
        self._max_sessions = max_sessions
        self._down_for_s = down_for_s
        self._rotation = itertools.count()

    def _client(self) -> aiohttp.ClientSession:
        """The HTTP session, made on first use: aiohttp binds it to the running event loop."""
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=self._timeout,
                # No pool cap: admission bounds the requests in flight, not the connector.
                # Idle connections close before vLLM's own keep-alive timeout (5 s) would, so
                # a request never races the replica closing the connection it reuses.
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=4.0),
                auto_decompress=False,
            )
        return self._http

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
        body = json.dumps(self._body(messages, params, request_id)).encode()
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
                        self._stream_from(replica, body, request_id, stream)
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
        self, replica: Replica, body: bytes, request_id: str, stream: _Stream
    ) -> AsyncGenerator[GenerationDelta, None]:
        """One attempt on one replica. Raises `_ReplicaFailed` only before the first delta."""
        try:
            response = await self._client().post(
                f"{replica.url}/v1/chat/completions",
                data=body,
                headers={"Content-Type": "application/json", "X-Request-Id": request_id},
            )
        except (aiohttp.ClientError, OSError) as exc:
            raise _ReplicaFailed(f"{type(exc).__name__}: {exc}") from exc
        stream.response = response
        state = _Progress()
        try:
            if response.status != 200:
                detail = (await response.read()).decode("utf-8", "replace")[:500]
                if response.status >= 500 or response.status in (408, 429):
                    raise _ReplicaFailed(f"HTTP {response.status}: {detail}")
                raise EngineError(f"replica {replica.url} refused the request: {detail}")
            decoder = SseDecoder()
            done = False
            while not done and not stream.aborted:
                data = await response.content.readany()
                if not data:
                    break  # the body ended
                chunks = []
                for payload in decoder.feed(data):
                    if payload == b"[DONE]":
                        done = True
                        break
                    chunks.append(json.loads(payload))
                delta = state.feed(chunks, replica.url)
                if delta is not None:
                    yield delta
            if done:
                await _read_to_end(response)
        except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: bad SSE/JSON
            if not stream.aborted:
                if not state.started:
                    raise _ReplicaFailed(f"{type(exc).__name__}: {exc}") from exc
                raise EngineError(f"replica {replica.url} dropped the stream: {exc}") from exc
        finally:
            stream.response = None
            if response.content.at_eof():
                response.release()  # read to its end: the connection goes back to the pool
            else:
                response.close()  # closing the connection makes vLLM abort the request
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
        """The chat-completion request a replica gets (encoded once, sent to each attempt)."""
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
            async with self._client().get(
                f"{replica.url}/health", timeout=aiohttp.ClientTimeout(total=5.0)
            ) as response:
                ok = response.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
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
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None


async def _read_to_end(response: aiohttp.ClientResponse, timeout_s: float = 1.0) -> None:
    """Consume what follows `[DONE]` (the chunked terminator), so the connection can be reused.
    A peer that keeps the body open gets its connection closed instead."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while await response.content.readany():
                pass


async def fetch_served_model(
    base_urls: Sequence[str], timeout_s: float = 10.0
) -> tuple[str, int | None] | None:
    """Name and context length the first answering replica serves (its `/v1/models`)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        for url in base_urls:
            try:
                async with client.get(f"{url.rstrip('/')}/v1/models") as resp:
                    resp.raise_for_status()
                    data = (await resp.json(content_type=None))["data"]
            except (aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError):
                continue
            if data:
                card = data[0]
                max_len = card.get("max_model_len")
                return str(card["id"]), int(max_len) if max_len else None
    return None
