"""Routing, retry and stream parsing of the remote engine against fake replicas: real HTTP
servers on loopback speaking vLLM's SSE format (tests/support/fake_replicas.py). The same paths
run against a real `vllm serve` in test_openai_real.py.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from server.engines.base import (
    ChatMessage,
    Engine,
    EngineError,
    GenerationDelta,
    GenerationParams,
    TextPart,
)
from server.engines.remote_request import chat_body
from server.engines.remote_stream import StreamProgress
from server.engines.sse import SseDecoder, SseProtocolError
from tests.support.fake_replicas import FAST_WORDS, FakeReplicas, collect

MSGS = [ChatMessage("user", (TextPart("hi"),))]
PARAMS = GenerationParams(max_tokens=3, temperature=0)


async def test_stream_parsing_counts_and_body() -> None:
    async with FakeReplicas({"r0": "paced"}) as fake:
        engine = fake.engine()
        assert isinstance(engine, Engine)
        agen = engine.generate(MSGS, PARAMS, "req-1")
        deltas: list[GenerationDelta] = []
        for _ in range(4):  # one chunk at a time: a delta per chunk, counts as they come
            fake.pace.put_nowait(None)
            deltas.append(await anext(agen))
        for _ in range(2):  # the finish chunk and [DONE]
            fake.pace.put_nowait(None)
        deltas += await collect(agen)
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


async def test_chunks_that_arrive_together_become_one_delta() -> None:
    """A backlog (the gateway was busy, the replica fast) is taken in one step, not one per
    token, and nothing is lost or double-counted."""
    async with FakeReplicas({"r0": "fast"}) as fake:
        engine = fake.engine()
        deltas = await collect(engine.generate(MSGS, PARAMS, "fast"))
        assert "".join(d.text for d in deltas) == "w" * FAST_WORDS
        assert deltas[-1].generated_tokens == FAST_WORDS
        assert len(deltas) < FAST_WORDS / 10, f"{len(deltas)} deltas for one burst"
        await engine.aclose()


async def test_the_connection_is_reused_across_rounds() -> None:
    async with FakeReplicas({"r0": "ok"}) as fake:
        engine = fake.engine()
        for i in range(3):
            await collect(engine.generate(MSGS, PARAMS, f"round-{i}", session_id="s"))
        connector = engine._client().connector
        assert connector is not None
        pooled = sum(len(c) for c in connector._conns.values())
        assert pooled == 1, "the stream was not read to its end: a new connection per round"
        await engine.aclose()


async def test_stop_string_is_reported() -> None:
    async with FakeReplicas({"r0": "stop"}) as fake:
        engine = fake.engine()
        deltas = await collect(engine.generate(MSGS, PARAMS, "r"))
        assert deltas[-1].finish_reason == "stop" and deltas[-1].stop_sequence == "</answer>"
        await engine.aclose()


async def test_session_affinity_and_least_in_flight() -> None:
    async with FakeReplicas({"r0": "hang", "r1": "ok"}) as fake:
        engine = fake.engine()
        # A long request occupies r0 ...
        busy = engine.generate(MSGS, PARAMS, "busy", session_id="s-busy")
        first = await anext(busy)
        assert first.prompt_tokens == 11
        assert fake.name_of(engine.session_replica("s-busy")) == "r0"
        # ... so new sessions go to the idle r1, and keep going there.
        for rnd in range(3):
            await collect(engine.generate(MSGS, PARAMS, f"a{rnd}", session_id="s-a"))
            assert fake.name_of(engine.session_replica("s-a")) == "r1"
        await busy.aclose()
        # Closing the iterator closed the HTTP stream: the replica sees its client go.
        await asyncio.wait_for(fake.closed.wait(), timeout=5)
        # With both idle, an existing session still sticks to its replica.
        fake.behaviour["r0"] = "ok"
        await collect(engine.generate(MSGS, PARAMS, "b", session_id="s-a"))
        assert fake.hits[-1] == "r1"
        await engine.aclose()


@pytest.mark.parametrize("failure", ["down", "500"])
async def test_retry_on_another_replica_before_first_token(failure: str) -> None:
    async with FakeReplicas({"r0": failure, "r1": "ok"}) as fake:
        engine = fake.engine()
        deltas = await collect(engine.generate(MSGS, PARAMS, "r", session_id="s"))
        assert fake.hits == ["r0", "r1"]
        assert "".join(d.text for d in deltas) == "abc"
        assert fake.name_of(engine.session_replica("s")) == "r1"  # the session moved
        # The failed replica is avoided for new sessions for a while.
        await collect(engine.generate(MSGS, PARAMS, "r2", session_id="s2"))
        assert fake.hits[-1] == "r1"
        await engine.aclose()


async def test_a_refused_connection_is_retried_elsewhere() -> None:
    async with FakeReplicas({"r0": "ok"}) as fake:
        closed_port = fake.urls["r0"]
    async with FakeReplicas({"r1": "ok"}) as fake:
        engine = fake.engine()
        engine.replicas.insert(0, type(engine.replicas[0])(closed_port))
        deltas = await collect(engine.generate(MSGS, PARAMS, "r"))
        assert "".join(d.text for d in deltas) == "abc" and fake.hits == ["r1"]
        assert engine.replicas[0].is_down(time.monotonic())
        await engine.aclose()


async def test_all_replicas_down_is_retryable() -> None:
    async with FakeReplicas({"r0": "down", "r1": "500"}) as fake:
        engine = fake.engine()
        with pytest.raises(EngineError) as err:
            await collect(engine.generate(MSGS, PARAMS, "r"))
        assert err.value.retryable
        assert sorted(fake.hits) == ["r0", "r1"]
        fake.behaviour["r1"] = "down"
        with pytest.raises(EngineError):
            await engine.check_health()
        await engine.aclose()


async def test_bad_request_is_not_retried() -> None:
    async with FakeReplicas({"r0": "400", "r1": "ok"}) as fake:
        engine = fake.engine()
        engine.replicas[1].in_flight = 5  # make r0 the pick
        with pytest.raises(EngineError) as err:
            await collect(engine.generate(MSGS, PARAMS, "r"))
        assert not err.value.retryable and "prompt too long" in str(err.value)
        assert fake.hits == ["r0"]
        await engine.aclose()


async def test_failure_after_first_token_is_final() -> None:
    async with FakeReplicas({"r0": "midway", "r1": "ok"}) as fake:
        engine = fake.engine()
        engine.replicas[1].in_flight = 5
        got: list[GenerationDelta] = []
        with pytest.raises(EngineError) as err:
            async for d in engine.generate(MSGS, PARAMS, "r"):
                got.append(d)
                fake.gate.set()  # the replica dies once a token has reached us
        assert not err.value.retryable
        assert got and fake.hits == ["r0"]
        await engine.aclose()


async def test_abort_ends_the_stream_with_abort() -> None:
    async with FakeReplicas({"r0": "hang"}) as fake:
        engine = fake.engine()
        agen = engine.generate(MSGS, PARAMS, "req-x")
        await anext(agen)  # the counts and "a" (one read)
        await engine.abort("req-x")
        rest = await asyncio.wait_for(collect(agen), timeout=5)
        assert rest[-1].finish_reason == "abort"
        await asyncio.wait_for(fake.closed.wait(), timeout=5)
        assert engine.replicas[0].in_flight == 0
        await engine.aclose()


async def test_abort_wakes_a_read_pending_in_another_task() -> None:
    async with FakeReplicas({"r0": "hang"}) as fake:
        engine = fake.engine()
        agen = engine.generate(MSGS, PARAMS, "req-y")
        await anext(agen)
        await fake.in_stream.wait()
        pending = asyncio.ensure_future(anext(agen))  # blocks: the replica sends nothing more
        await asyncio.sleep(0)  # let it start its read (a yield, not a wait for time)
        assert not pending.done()
        await engine.abort("req-y")
        last = await asyncio.wait_for(pending, timeout=5)
        assert last.finish_reason == "abort"
        await asyncio.wait_for(fake.closed.wait(), timeout=5)
        await engine.aclose()


async def test_idle_sessions_are_forgotten() -> None:
    async with FakeReplicas({"r0": "ok", "r1": "ok"}) as fake:
        engine = fake.engine(session_ttl_s=0.0)
        await collect(engine.generate(MSGS, PARAMS, "r", session_id="old"))
        assert engine.session_replica("old") is not None
        await collect(engine.generate(MSGS, PARAMS, "r2", session_id="new"))
        assert engine.session_replica("old") is None  # pruned when the next session was routed
        await engine.aclose()


async def test_health_marks_replicas() -> None:
    async with FakeReplicas({"r0": "down", "r1": "ok"}) as fake:
        engine = fake.engine()
        await engine.check_health()  # one healthy replica is enough
        now = time.monotonic()
        assert engine.replicas[0].is_down(now)
        assert not engine.replicas[1].is_down(now)
        # New sessions avoid the unhealthy replica.
        await collect(engine.generate(MSGS, PARAMS, "r", session_id="s"))
        assert fake.hits == ["r1"]
        await engine.aclose()


@pytest.mark.parametrize(
    ("reads", "payloads"),
    [
        ([b"data: 1\n\ndata: 2\n\n"], [b"1", b"2"]),
        ([b"data: 1\n", b"\ndata: 2", b"\n\n"], [b"1", b"2"]),  # split anywhere
        ([b"data: 1\r", b"\n\r\n"], [b"1"]),  # CRLF, split inside the CRLF
        ([b": comment\n\nevent: x\ndata: a\ndata:b\n\n"], [b"a\nb"]),  # spec fields
        ([b"\n\n\n\ndata: [DONE]\n\n"], [b"[DONE]"]),
    ],
)
def test_sse_decoder(reads: list[bytes], payloads: list[bytes]) -> None:
    decoder = SseDecoder()
    got = [p for data in reads for p in decoder.feed(data)]
    assert got == payloads
    assert not decoder.pending


def test_sse_decoder_refuses_an_endless_event() -> None:
    decoder = SseDecoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"x" * 90)
    with pytest.raises(SseProtocolError):
        decoder.feed(b"x" * 20)


def test_request_body_carries_the_sampling_extensions() -> None:
    """Sent even at their neutral values: a field left out would take the replica's
    generation-config default, which the in-process engine never applies."""
    plain = chat_body("m", MSGS, PARAMS, "r")
    assert plain["ignore_eos"] is False and plain["min_tokens"] == 0
    assert (plain["top_k"], plain["min_p"], plain["repetition_penalty"]) == (0, 0.0, 1.0)
    assert plain["stop_token_ids"] == []
    params = GenerationParams(
        max_tokens=3,
        ignore_eos=True,
        min_tokens=2,
        top_k=5,
        min_p=0.1,
        repetition_penalty=1.3,
        stop_token_ids=(7, 9),
    )
    body = chat_body("m", MSGS, params, "r")
    assert {k: body[k] for k in ("ignore_eos", "min_tokens", "top_k", "min_p")} == {
        "ignore_eos": True,
        "min_tokens": 2,
        "top_k": 5,
        "min_p": 0.1,
    }
    assert body["repetition_penalty"] == 1.3 and body["stop_token_ids"] == [7, 9]


def _finish(stop_reason: object) -> bytes:
    choice = {"index": 0, "delta": {}, "finish_reason": "stop", "stop_reason": stop_reason}
    usage = {"prompt_tokens": 3, "completion_tokens": 2}
    return b"data: " + json.dumps({"choices": [choice], "usage": usage}).encode() + b"\n\n"


@pytest.mark.parametrize(
    ("stop_reason", "caller_ids", "sequence", "token"),
    [
        (7, (7, 9), None, 7),  # the caller's stop token
        (4007, (7,), None, None),  # a generation-config EOS id: vLLM says int, we say EOS
        (None, (7,), None, None),  # the model's EOS
        ("</answer>", (7,), "</answer>", None),  # a stop string
    ],
)
def test_stop_token_of_the_finish_chunk(
    stop_reason: object, caller_ids: tuple[int, ...], sequence: str | None, token: int | None
) -> None:
    progress = StreamProgress("http://r", caller_ids)
    assert progress.feed(_finish(stop_reason)) is not None
    last = progress.final()
    assert (last.finish_reason, last.stop_sequence, last.stop_token) == ("stop", sequence, token)
