"""`/tokenize` and `/detokenize`: vLLM's shapes, and the same ids and text as `vllm serve`
itself gives for the same model (the real engine), plus the refusals (scripted engine)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from server.api.app import create_app
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.api.conftest import SCRIPTED_MODEL
from tests.conftest import SERVED_NAME
from tests.support.live_server import serving
from tests.support.vllm_process import VllmServer

TEXT = "Compute 17 * 23, then explain </think> <answer>391</answer>"
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": [{"type": "text", "text": "What is 17 * 23?"}]},
]


async def test_shapes_and_refusals(make_client: Any) -> None:
    async with make_client([]) as (client, _):
        plain = (await client.post("/tokenize", json={"prompt": "a b c"})).json()
        chat = await client.post("/tokenize", json={"messages": MESSAGES})
        back = await client.post("/detokenize", json={"tokens": [1, 2]})
        strs = await client.post("/tokenize", json={"prompt": "a", "return_token_strs": True})
        other = await client.post("/tokenize", json={"model": "nope", "prompt": "a"})
        negative = await client.post("/detokenize", json={"tokens": [-1]})
        ok_model = await client.post("/tokenize", json={"model": SCRIPTED_MODEL, "prompt": "a"})
    assert plain["count"] == len(plain["tokens"]) == 3 and plain["max_model_len"] == 1 << 20
    assert plain["token_strs"] is None
    assert chat.status_code == 200 and chat.json()["count"] > 0
    assert back.status_code == 200 and isinstance(back.json()["prompt"], str)
    assert strs.status_code == 400 and strs.json()["error"]["code"] == "unsupported_value"
    assert other.status_code == 404 and other.json()["error"]["code"] == "model_not_found"
    assert negative.status_code == 400
    assert ok_model.status_code == 200


@pytest.fixture
async def gateway(vllm_engine: VllmLocalEngine) -> AsyncIterator[str]:
    app = create_app(Settings(served_model_name=SERVED_NAME), engine=vllm_engine)
    async with serving(app) as url:
        yield url


@pytest.mark.engine
async def test_same_answers_as_vllm_serve(gateway: str, vllm_server: VllmServer) -> None:
    requests: list[tuple[str, dict[str, Any]]] = [
        ("/tokenize", {"model": SERVED_NAME, "prompt": TEXT}),
        ("/tokenize", {"model": SERVED_NAME, "prompt": TEXT, "add_special_tokens": False}),
        ("/tokenize", {"model": SERVED_NAME, "messages": MESSAGES}),
        ("/tokenize", {"messages": MESSAGES, "add_generation_prompt": False}),
    ]
    async with httpx.AsyncClient(timeout=60) as http:
        for path, body in requests:
            ours = (await http.post(gateway + path, json=body)).json()
            theirs = (await http.post(vllm_server.base_url + path, json=body)).json()
            assert ours["tokens"] == theirs["tokens"], body
            assert ours["count"] == theirs["count"] and ours["max_model_len"] > 0
        tokens = (await http.post(gateway + "/tokenize", json={"prompt": TEXT})).json()["tokens"]
        body = {"model": SERVED_NAME, "tokens": tokens}
        ours = (await http.post(gateway + "/detokenize", json=body)).json()
        theirs = (await http.post(vllm_server.base_url + "/detokenize", json=body)).json()
    assert ours == theirs
