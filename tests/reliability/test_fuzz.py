"""Fuzzing: schemathesis against the server's own OpenAPI schema over real HTTP (positive and
negative cases, no 5xx, every error in OpenAI's shape), and hypothesis on the request models and
the strict JSON parser (only `VtcError`s escape, never anything else)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from server.api.app import create_app
from server.api.chat.translate import to_loop_request, validate
from server.api.protocol.chat import ChatCompletionRequest
from server.api.strict_json import MAX_DEPTH, parse_json
from server.errors import VtcError
from server.settings import Settings
from tests.support.live_server import live_server
from tests.support.scripted import MODEL, RoundEngine

FUZZ_SETTINGS = Settings(max_input_images=4, max_image_pixels=512 * 512)
APP = create_app(FUZZ_SETTINGS, engine=RoundEngine(1))
SCHEMA = schemathesis.openapi.from_dict(APP.openapi())


def _served_model(case: Any) -> Any:
    """Most positive chat bodies name a random model (a 404); these name ours, so the loop runs."""
    if isinstance(case.body, dict) and "model" in case.body:
        case.body["model"] = MODEL
    return case


POSITIVE = SCHEMA.as_strategy(GenerationMode.POSITIVE)
CASES = st.one_of(
    POSITIVE, POSITIVE.map(_served_model), SCHEMA.as_strategy(GenerationMode.NEGATIVE)
)
EXAMPLES = 400
seen: dict[int, int] = {}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    started = time.monotonic()
    with live_server(APP) as base:
        yield base
    print(
        f"\nschemathesis {schemathesis.__version__}: {sum(seen.values())} requests in "
        f"{time.monotonic() - started:.1f} s, statuses {dict(sorted(seen.items()))}"
    )
    assert not any(status >= 500 for status in seen)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(case=CASES)
def test_schemathesis_no_server_errors(base_url: str, case: Any) -> None:
    response = case.call(base_url=base_url, timeout=30)
    seen[response.status_code] = seen.get(response.status_code, 0) + 1
    assert response.status_code < 500, (case.as_curl_command(), response.text[:500])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
    # The server stays ready whatever it was sent.
    assert case.operation.path == "/ready" or response.status_code != 503


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)


def _clean(value: Any, depth: int = 1) -> bool:
    """Would a strict parser accept `value` (serialised)?"""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, list):
        return depth <= MAX_DEPTH and all(_clean(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return depth <= MAX_DEPTH and all(
            _clean(k) and _clean(v, depth + 1) for k, v in value.items()
        )
    return True


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(value=JSON_VALUES)
def test_strict_parser_accepts_exactly_clean_json(value: Any) -> None:
    raw = json.dumps(value).encode()
    if _clean(value):
        assert parse_json(raw) == value
    else:
        with pytest.raises(VtcError):
            parse_json(raw)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(raw=st.binary(max_size=64))
def test_strict_parser_on_arbitrary_bytes_raises_only_vtc_errors(raw: bytes) -> None:
    try:
        parse_json(raw)
    except VtcError as exc:
        assert exc.status == 400


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(value=JSON_VALUES)
def test_temperature_is_a_number_in_range_or_refused(value: Any) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "q"}], "temperature": value}
    try:
        parsed = ChatCompletionRequest.model_validate(body)
    except ValueError:
        ok = False
    else:
        ok = True
        assert parsed.temperature == value
    number = isinstance(value, int | float) and not isinstance(value, bool)
    expected = value is None or (number and 0 <= value <= 2)
    assert ok == expected


MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "developer", "user", "assistant"]),
            "content": st.one_of(
                st.none(),
                st.text(max_size=20),
                st.lists(
                    st.one_of(
                        st.fixed_dictionaries({"type": st.just("text"), "text": st.text()}),
                        st.fixed_dictionaries(
                            {
                                "type": st.just("image_url"),
                                "image_url": st.fixed_dictionaries({"url": st.text(max_size=30)}),
                            }
                        ),
                    ),
                    max_size=3,
                ),
            ),
        }
    ),
    min_size=1,
    max_size=4,
)
REQUESTS = st.fixed_dictionaries(
    {"model": st.just(MODEL), "messages": MESSAGES},
    optional={
        "max_tokens": st.integers(min_value=1, max_value=10**6),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0, 1),
        "stop": st.one_of(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=6)),
        "seed": st.integers(-(2**63), 2**64 - 1),
        "n": st.integers(1, 3),
        "vtc": st.fixed_dictionaries(
            {},
            optional={
                "max_rounds": st.integers(1, 64),
                "round_max_tokens": st.integers(1, 10**6),
                "mode": st.sampled_from(["vtc", "baseline"]),
            },
        ),
    },
)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(body=REQUESTS)
def test_valid_shaped_requests_translate_or_fail_cleanly(body: dict[str, Any]) -> None:
    """Any schema-valid request either becomes a loop request or is refused with a VtcError."""
    request = ChatCompletionRequest.model_validate(body)
    try:
        validate(request, FUZZ_SETTINGS, (request.model,))
        loop_request = to_loop_request(request, FUZZ_SETTINGS, "chatcmpl-x")
    except VtcError as exc:
        assert 400 <= exc.status < 500
        return
    assert loop_request.messages[-1].role == "user"
    assert loop_request.token_budget() <= FUZZ_SETTINGS.max_tokens_limit
    assert 0 < loop_request.sampling.top_p <= 1
