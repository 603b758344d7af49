"""The capacity benchmark's stand-in upstream speaks `vllm serve`'s protocol as the gateway uses it.

Checked against the session's real `vllm serve` on the tiny model: the same endpoints, status
codes, headers, chunk shapes (field names at every level, in order: role chunk, token chunks,
`finish_reason` on the last token, the usage chunk, `[DONE]`), and the gateway's own remote
engine reads both into the same deltas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.engines.base import ChatMessage, GenerationParams, ModelInfo, TextPart
from server.engines.openai_remote import OpenAIRemoteEngine
from tests.conftest import SERVED_NAME
from tests.support.vllm_process import VllmServer, free_port

pytestmark = pytest.mark.engine
ROOT = Path(__file__).resolve().parents[2]
TOKENS = 6


@pytest.fixture(scope="module")
def standin(tiny_model_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'benchmarks'}"}
    command = [sys.executable, "-m", "capacity_parts.standin", "--port", str(port)]
    command += ["--served-name", SERVED_NAME, "--root", str(tiny_model_dir)]
    command += ["--tokens-per-s", "200", "--ttft-ms", "5"]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline()  # printed once the socket is bound
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def chat_body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "[capacity t-1] What is 2 + 2?"}],
        "max_tokens": TOKENS,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True, "continuous_usage_stats": True},
        "skip_special_tokens": False,
        "request_id": "shape-1",
    }


def stream(base: str) -> tuple[httpx.Headers, list[str]]:
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", f"{base}/v1/chat/completions", json=chat_body(SERVED_NAME)) as r,
    ):
        assert r.status_code == 200
        events = [e for e in r.read().decode().split("\n\n") if e]
        return r.headers, events


def shape(value: Any) -> Any:
    """Field names (in order) and value kinds, recursively; strings and numbers as their type."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def test_same_endpoints_as_vllm_serve(vllm_server: VllmServer, standin: str) -> None:
    real, ours = httpx.get(f"{vllm_server.base_url}/health"), httpx.get(f"{standin}/health")
    assert (real.status_code, real.content) == (ours.status_code, ours.content) == (200, b"")
    real_card = httpx.get(f"{vllm_server.base_url}/v1/models").json()["data"][0]
    card = httpx.get(f"{standin}/v1/models").json()["data"][0]
    assert card["id"] == real_card["id"] == SERVED_NAME
    assert card["root"] == real_card["root"]
    assert set(card) <= set(real_card) and {"id", "root", "max_model_len"} <= set(card)


def test_same_stream_as_vllm_serve(vllm_server: VllmServer, standin: str) -> None:
    real_headers, real = stream(vllm_server.base_url)
    headers, ours = stream(standin)
    assert headers["content-type"] == real_headers["content-type"]
    assert headers["transfer-encoding"] == real_headers["transfer-encoding"] == "chunked"
    assert len(ours) == len(real) == TOKENS + 3  # role, tokens, usage, [DONE]
    assert ours[-1] == real[-1] == "data: [DONE]"
    for mine, theirs in zip(ours[:-1], real[:-1], strict=True):
        a, b = json.loads(mine[6:]), json.loads(theirs[6:])
        assert shape(a) == shape(b), (mine, theirs)
        if a["choices"]:
            assert a["choices"][0]["finish_reason"] == b["choices"][0]["finish_reason"]
    assert json.loads(ours[1][6:])["id"] == json.loads(real[1][6:])["id"] == "chatcmpl-shape-1"


async def test_the_remote_engine_reads_both_alike(vllm_server: VllmServer, standin: str) -> None:
    info = ModelInfo(name=SERVED_NAME, max_model_len=4096, wants_png=True)
    messages = [ChatMessage("user", (TextPart("[capacity t-2] What is 2 + 2?"),))]
    params = GenerationParams(max_tokens=TOKENS, temperature=0.0)
    for base in (vllm_server.base_url, standin):
        engine = OpenAIRemoteEngine([base], info)
        try:
            deltas = [d async for d in engine.generate(messages, params, "same-1")]
        finally:
            await engine.aclose()
        assert deltas[0].prompt_tokens > 0  # continuous usage: counts on the first delta
        assert deltas[-1].finish_reason in ("length", "stop")  # the random model may stop
        assert 1 <= deltas[-1].generated_tokens <= TOKENS
        assert any(d.text for d in deltas)
        if base == standin:
            assert deltas[-1].finish_reason == "length"
            assert deltas[-1].generated_tokens == TOKENS
