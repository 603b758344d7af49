"""Routing, retry and stream parsing of the remote engine against fake replicas (no vLLM).

The fakes speak vLLM's SSE chat-completion format; the same paths run against a real
`vllm serve` in test_engines_real.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from server.engines.base import (
    ChatMessage,
    Engine,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
    TextPart,
)
from server.engines.openai_remote import OpenAIRemoteEngine

MSGS = [ChatMessage("user", (TextPart("hi"),))]
PARAMS = GenerationParams(max_tokens=3, temperature=0)


def _chunk(content: str | None, n: int, finish: str | None = None, **choice: object) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **choice}],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": n,
            "total_tokens": 11 + n,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _sse(words: list[str], finish: str = "length", **choice: object) -> list[bytes]:
    out = [_chunk("", 0)]
    out += [_chunk(w, i + 1) for i, w in enumerate(words)]
    out.append(_chunk(None, len(words), finish, **choice))
    out.append(b"data: [DONE]\n\n")
    return out


class FakeReplicas:
    """Per-host behaviour: 'ok', 'down' (connect error), '500', '400', 'midway' (dies after a
    token), 'hang' (one token, then waits until the client goes away)."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour
        self.hits: list[str] = []
        self.bodies: list[dict[str, object]] = []
        self.closed = asyncio.Event()
        self.in_stream = asyncio.Event()

    async def handler(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        mode = self.behaviour[host]
        if request.url.path == "/health":
            return httpx.Response(200 if mode != "down" else 503)
        self.hits.append(host)
        self.bodies.append(json.loads(request.content))
        if mode == "down":
            raise httpx.ConnectError("refused", request=request)
        if mode == "500":
            return httpx.Response(500, text="engine dead")
        if mode == "400":
            return httpx.Response(400, text="prompt too long")
        return httpx.Response(200, stream=self._stream(mode))

    def _stream(self, mode: str) -> httpx.AsyncByteStream:
        fake = self

        class Stream(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                chunks = _sse(["a", "b", "c"])
                if mode == "midway":
                    yield chunks[0]
                    yield chunks[1]
                    raise httpx.ReadError("connection reset")
                if mode == "hang":
                    yield chunks[0]
                    yield chunks[1]
                    fake.in_stream.set()
                    await asyncio.Event().wait()  # until the client closes the stream
                for c in chunks:
                    yield c

            async def aclose(self) -> None:
                fake.closed.set()

        return Stream()


def _engine(fake: FakeReplicas, hosts: list[str], **kwargs: object) -> OpenAIRemoteEngine:
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    info = ModelInfo(name="m", max_model_len=4096, wants_png=True)
    return OpenAIRemoteEngine(
        [f"http://{h}:8000" for h in hosts],
        info,
        client=client,
        **kwargs,  # type: ignore[arg-type]
    )


async def _collect(agen: AsyncIterator[GenerationDelta]) -> list[GenerationDelta]:
    return [d async for d in agen]


async def test_stream_parsing_counts_and_body() -> None:
    fake = FakeReplicas({"r0": "ok"})
    engine = _engine(fake, ["r0"])
    assert isinstance(engine, Engine)
    deltas = await _collect(engine.generate(MSGS, PARAMS, "req-1"))
    assert "".join(d.text for d in deltas) == "abc"
    assert deltas[0].prompt_tokens == 11 and deltas[0].generated_tokens == 0
    assert [d.generated_tokens for d in deltas] == [0, 1, 2, 3, 3]
    assert deltas[-1].finish_reason == "length" and deltas[-1].cached_tokens == 4
    assert all(d.finish_reason is None for d in deltas[:-1])
    body = fake.bodies[0]
    assert body["stream_options"] == {"include_usage": True, "continuous_usage_stats": True}
    assert body["skip_special_tokens"] is False and body["request_id"] == "req-1"
    assert body["model"] == "m"
    await engine.aclose()


async def test_stop_string_is_reported() -> None:
    fake = FakeReplicas({"r0": "ok"})
    engine = _engine(fake, ["r0"])

    async def stop_stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"".join(_sse(["x"], "stop", stop_reason="</answer>")))

    engine._client = httpx.AsyncClient(transport=httpx.MockTransport(stop_stream))
    deltas = await _collect(engine.generate(MSGS, PARAMS, "r"))
    assert deltas[-1].finish_reason == "stop" and deltas[-1].stop_sequence == "</answer>"


async def test_session_affinity_and_least_in_flight() -> None:
    fake = FakeReplicas({"r0": "hang", "r1": "ok"})
    engine = _engine(fake, ["r0", "r1"])
    # A long request occupies r0 ...
    busy = engine.generate(MSGS, PARAMS, "busy", session_id="s-busy")
    first = await anext(busy)
    assert first.prompt_tokens == 11
    assert engine.session_replica("s-busy") == "http://r0:8000"
    # ... so new sessions go to the idle r1, and keep going there.
    for rnd in range(3):
        await _collect(engine.generate(MSGS, PARAMS, f"a{rnd}", session_id="s-a"))
        assert engine.session_replica("s-a") == "http://r1:8000"
    await busy.aclose()
    assert fake.closed.is_set()  # closing the iterator closed the HTTP stream
    # With both idle, an existing session still sticks to its replica.
    fake.behaviour["r0"] = "ok"
    await _collect(engine.generate(MSGS, PARAMS, "b", session_id="s-a"))
    assert fake.hits[-1] == "r1"
    await engine.aclose()


@pytest.mark.parametrize("failure", ["down", "500"])
async def test_retry_on_another_replica_before_first_token(failure: str) -> None:
    fake = FakeReplicas({"r0": failure, "r1": "ok"})
    engine = _engine(fake, ["r0", "r1"])
    deltas = await _collect(engine.generate(MSGS, PARAMS, "r", session_id="s"))
    assert fake.hits == ["r0", "r1"]
    assert "".join(d.text for d in deltas) == "abc"
    assert engine.session_replica("s") == "http://r1:8000"  # the session moved
    # The failed replica is avoided for new sessions for a while.
    await _collect(engine.generate(MSGS, PARAMS, "r2", session_id="s2"))
    assert fake.hits[-1] == "r1"
    await engine.aclose()


async def test_all_replicas_down_is_retryable() -> None:
    fake = FakeReplicas({"r0": "down", "r1": "500"})
    engine = _engine(fake, ["r0", "r1"])
    with pytest.raises(EngineError) as err:
        await _collect(engine.generate(MSGS, PARAMS, "r"))
    assert err.value.retryable
    assert sorted(fake.hits) == ["r0", "r1"]
    fake.behaviour["r1"] = "down"
    with pytest.raises(EngineError):
        await engine.check_health()
    await engine.aclose()


async def test_bad_request_is_not_retried() -> None:
    fake = FakeReplicas({"r0": "400", "r1": "ok"})
    engine = _engine(fake, ["r0", "r1"])
    engine.replicas[1].in_flight = 5  # make r0 the pick
    with pytest.raises(EngineError) as err:
        await _collect(engine.generate(MSGS, PARAMS, "r"))
    assert not err.value.retryable and "prompt too long" in str(err.value)
    assert fake.hits == ["r0"]
    await engine.aclose()


async def test_failure_after_first_token_is_final() -> None:
    fake = FakeReplicas({"r0": "midway", "r1": "ok"})
    engine = _engine(fake, ["r0", "r1"])
    engine.replicas[1].in_flight = 5
    got: list[GenerationDelta] = []
    with pytest.raises(EngineError) as err:
        async for d in engine.generate(MSGS, PARAMS, "r"):
            got.append(d)
    assert not err.value.retryable
    assert got and fake.hits == ["r0"]
    await engine.aclose()


async def test_abort_ends_the_stream_with_abort() -> None:
    fake = FakeReplicas({"r0": "hang"})
    engine = _engine(fake, ["r0"])
    agen = engine.generate(MSGS, PARAMS, "req-x")
    await anext(agen)
    await anext(agen)  # "a"
    await engine.abort("req-x")
    rest = await asyncio.wait_for(_collect(agen), timeout=5)
    assert rest[-1].finish_reason == "abort"
    assert fake.closed.is_set()
    assert engine.replicas[0].in_flight == 0
    await engine.aclose()


async def test_idle_sessions_are_forgotten() -> None:
    fake = FakeReplicas({"r0": "ok", "r1": "ok"})
    engine = _engine(fake, ["r0", "r1"], session_ttl_s=0.0)
    await _collect(engine.generate(MSGS, PARAMS, "r", session_id="old"))
    assert engine.session_replica("old") is not None
    await _collect(engine.generate(MSGS, PARAMS, "r2", session_id="new"))
    assert engine.session_replica("old") is None  # pruned when the next session was routed
    await engine.aclose()


async def test_health_marks_replicas() -> None:
    fake = FakeReplicas({"r0": "down", "r1": "ok"})
    engine = _engine(fake, ["r0", "r1"])
    await engine.check_health()  # one healthy replica is enough
    now = time.monotonic()
    assert engine.replicas[0].is_down(now)
    assert not engine.replicas[1].is_down(now)
    # New sessions avoid the unhealthy replica.
    await _collect(engine.generate(MSGS, PARAMS, "r", session_id="s"))
    assert fake.hits == ["r1"]
    await engine.aclose()


async def test_a_fast_stream_does_not_starve_the_event_loop() -> None:
    """Bytes that are already buffered are read without suspending; the reader must still let
    the consumer (and everything else on the loop) run between chunks."""
    n = 500

    async def fast(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"".join(_sse(["w"] * n)))

    client = httpx.AsyncClient(transport=httpx.MockTransport(fast))
    engine = OpenAIRemoteEngine(
        ["http://r0:8000"], ModelInfo(name="m", max_model_len=4096), client=client
    )
    agen = engine.generate(MSGS, PARAMS, "fast")
    await anext(agen)
    await anext(agen)
    backlog = engine._streams["fast"].queue.qsize()
    assert backlog < 10, f"the reader ran ahead by {backlog} chunks without yielding"
    rest = await _collect(agen)
    assert rest[-1].generated_tokens == n
    await engine.aclose()
