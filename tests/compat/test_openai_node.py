"""The OpenAI Node SDK (from the npm registry) against a real `vtcr1 serve`.

`node_client.cjs` makes a streamed chat request and three Responses API calls (create,
create with stream, the `responses.stream()` helper) and prints what the SDK handed it as one
JSON object. Node and npm are on these machines; where `node` is not, the tests skip saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import ROUND_TOKENS, ROUNDS
from tests.compat.gateway import Gateway
from tests.conftest import SERVED_NAME
from tests.support.ecosystem_tools import ensure_node_openai, node_package_version

pytestmark = pytest.mark.engine

SCRIPT = Path(__file__).with_name("node_client.cjs")


@pytest.fixture(scope="module")
def node_run(gateway: Gateway) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: the OpenAI Node SDK cannot be run here")
    sdk = ensure_node_openai()
    print(f"openai (npm) {node_package_version(sdk, 'openai')}")
    mark = gateway.log_offset()
    done = subprocess.run(
        [node, str(SCRIPT), f"{gateway.base_url}/v1", SERVED_NAME],
        env={**os.environ, "OPENAI_SDK_DIR": str(sdk)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    result["ignored_fields"] = gateway.ignored_fields(mark)
    return result


def test_node_sends_nothing_the_server_ignores(node_run: dict[str, Any]) -> None:
    assert node_run["ignored_fields"] == []


def _part(node_run: dict[str, Any], name: str) -> dict[str, Any]:
    part: dict[str, Any] = node_run[name]
    assert "error" not in part, f"{name}: the Node SDK threw: {part.get('error')}"
    return part


def test_node_chat_stream_reasoning_and_usage(node_run: dict[str, Any]) -> None:
    chat = _part(node_run, "chat_stream")
    assert chat["reasoning"] and chat["content"] == ""
    assert chat["finish"] == "length" and chat["rounds"] == ROUNDS
    usage = chat["usage"]
    assert usage["completion_tokens"] == ROUNDS * ROUND_TOKENS
    assert usage["completion_tokens_details"]["reasoning_tokens"] == usage["completion_tokens"]


def test_node_responses_create(node_run: dict[str, Any]) -> None:
    created = _part(node_run, "responses_create")
    assert created["status"] == "incomplete" and created["text"] == ""
    assert len(created["reasoning"]) == ROUNDS and all(created["reasoning"])
    reasoning_tokens = created["usage"]["output_tokens_details"]["reasoning_tokens"]
    assert reasoning_tokens == created["usage"]["output_tokens"] == ROUNDS * ROUND_TOKENS


def test_node_responses_stream_events(node_run: dict[str, Any]) -> None:
    streamed = _part(node_run, "responses_stream")
    types = streamed["types"]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert types.count("response.vtc.round") == ROUNDS
    assert streamed["sequence"] == sorted(set(streamed["sequence"]))
    assert streamed["deltas"] == "".join(streamed["reasoning"]) != ""


# openai 6.49.0's ResponseStream accumulator throws on any event type it does not know
# ("Unhandled response stream event", its assertNever): the server sends its own
# `response.vtc.*` events only to clients that sent a `vtc` object, so the helper works.
def test_node_responses_stream_helper(node_run: dict[str, Any]) -> None:
    helper = _part(node_run, "responses_helper")
    assert "error" not in helper, helper
    assert "response.reasoning_text.delta" in helper["types"]
    assert not any(t.startswith("response.vtc.") for t in helper["types"])
    assert len(helper["reasoning"]) == ROUNDS and all(helper["reasoning"])
    assert helper["usage"]["output_tokens_details"]["reasoning_tokens"] == ROUNDS * ROUND_TOKENS
