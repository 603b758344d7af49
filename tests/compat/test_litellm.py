"""LiteLLM's SDK (`hosted_vllm/` provider) against a real `vtcr1 serve`: the reasoning must come
through, plain and streamed (LiteLLM maps `reasoning_content` onto its message and deltas).

LiteLLM runs in a venv of its own (`tests/support/ecosystem_tools.py`: heavy, with pins of its
own; installed once per machine and shared with `benchmarks/capacity.py`), from a script.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.conftest import ROUND_TOKENS, ROUNDS
from tests.compat.gateway import Gateway
from tests.conftest import SERVED_NAME
from tests.support.ecosystem_tools import ensure_litellm_venv

pytestmark = pytest.mark.engine

SCRIPT = Path(__file__).with_name("litellm_client.py")
# No network at import (the model cost map is read from the package), quiet logs.
LITELLM_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}


@pytest.fixture(scope="module")
def litellm_run(gateway: Gateway) -> dict[str, Any]:
    python = ensure_litellm_venv() / "bin" / "python"
    mark = gateway.log_offset()
    done = subprocess.run(
        [str(python), str(SCRIPT), f"{gateway.base_url}/v1", SERVED_NAME],
        env={**os.environ, **LITELLM_ENV, "PYTHONPATH": ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    print(f"litellm {result['version']}")
    result["ignored_fields"] = gateway.ignored_fields(mark)
    return result


def test_litellm_sends_nothing_the_server_ignores(litellm_run: dict[str, Any]) -> None:
    assert litellm_run["ignored_fields"] == []


def test_litellm_completion_carries_reasoning_and_usage(litellm_run: dict[str, Any]) -> None:
    plain = litellm_run["plain"]
    assert plain["reasoning_content"] and plain["content"] == ""
    usage = plain["usage"]
    assert usage["completion_tokens"] == ROUNDS * ROUND_TOKENS
    assert usage["completion_tokens_details"]["reasoning_tokens"] == usage["completion_tokens"]
    # Our extension survives on the non-streamed response.
    assert plain["vtc"]["rounds"] == ROUNDS


def test_litellm_stream_carries_reasoning_and_usage(litellm_run: dict[str, Any]) -> None:
    streamed = litellm_run["stream"]
    assert streamed["reasoning_content"] and streamed["finish"] == "length"
    usage = streamed["usage"]
    assert usage["completion_tokens"] == ROUNDS * ROUND_TOKENS
    assert usage["completion_tokens_details"]["reasoning_tokens"] == usage["completion_tokens"]
