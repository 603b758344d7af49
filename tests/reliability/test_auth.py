"""API keys: Bearer auth in OpenAI's 401 shape, probes open, /metrics by setting, keys from
flags, env and a file, compared against every key, never logged."""

from __future__ import annotations

import hmac
import logging
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from server.api.app import create_app
from server.api.auth import ApiKeyAuth, load_key_digests
from server.settings import Settings
from tests.reliability.conftest import AppClient
from tests.reliability.support import assert_openai_error, chat
from tests.support.scripted import RoundEngine

KEY_A = "sk-alpha-1c0ffee-do-not-log"
KEY_B = "sk-bravo-2c0ffee-do-not-log"
KEY_FILE = "sk-file-3c0ffee-do-not-log"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_from_flags_env_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"# team keys\n\n{KEY_FILE}\n")
    flags = Settings(
        _cli_parse_args=[
            "--api-key",
            KEY_A,
            "--api-key",
            f"{KEY_B}, x",
            "--api-key-file",
            str(key_file),
        ]
    )
    assert [k.get_secret_value() for k in flags.api_keys] == [KEY_A, KEY_B, "x"]
    assert len(load_key_digests(flags)) == 4
    assert KEY_A not in repr(flags) and KEY_A not in str(flags.model_dump())
    monkeypatch.setenv("VTCR1_API_KEYS", f"{KEY_A},{KEY_B}")
    assert [k.get_secret_value() for k in Settings().api_keys] == [KEY_A, KEY_B]


def test_a_missing_key_file_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        create_app(Settings(api_key_file=tmp_path / "absent"), engine=RoundEngine(1))


async def test_bearer_keys_guard_everything_but_the_probes(
    app_client: AppClient, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(KEY_FILE + "\n")
    engine = RoundEngine(1)
    settings = {"api_keys": [KEY_A, KEY_B], "api_key_file": key_file}
    async with app_client(engine, **settings) as client:
        missing = await client.post("/v1/chat/completions", json=chat())
        wrong = await client.post("/v1/chat/completions", json=chat(), headers=bearer("sk-nope"))
        basic = await client.get("/v1/models", headers={"Authorization": f"Basic {KEY_A}"})
        empty = await client.get("/v1/models", headers={"Authorization": "Bearer "})
        for response in (missing, wrong, basic, empty):
            assert response.status_code == 401, response.text
            error = assert_openai_error(response.json(), "invalid_api_key")
            assert error["type"] == "authentication_error"
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.headers["x-request-id"]
        assert engine.calls == []
        for key in (KEY_A, KEY_B, KEY_FILE):
            ok = await client.post("/v1/chat/completions", json=chat(), headers=bearer(key))
            assert ok.status_code == 200, ok.text
        lower = {"authorization": f"bearer {KEY_B}"}
        assert (await client.get("/v1/models", headers=lower)).status_code == 200
        for path in ("/health", "/ready", "/metrics"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/version")).status_code == 401


async def test_metrics_can_require_a_key(app_client: AppClient) -> None:
    async with app_client(api_keys=[KEY_A], metrics_auth=True) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=bearer(KEY_A))).status_code == 200
        assert (await client.get("/ready")).status_code == 200


async def test_no_keys_means_open(app_client: AppClient) -> None:
    async with app_client() as client:
        assert (await client.post("/v1/chat/completions", json=chat())).status_code == 200
        anything = await client.get("/v1/models", headers=bearer("whatever"))
        assert anything.status_code == 200


async def test_keys_never_reach_a_log_or_a_response(
    app_client: AppClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Other suites (vLLM) reconfigure logging; make sure our loggers reach caplog here.
    for name in ("vtcr1.api", "vtcr1.service", "vtcr1.engine_watch", "httpx"):
        monkeypatch.setattr(logging.getLogger(name), "disabled", False)
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    caplog.set_level(logging.DEBUG)
    wrong = "sk-wrong-4c0ffee-do-not-log"
    async with app_client(api_keys=[KEY_A], log_level="debug") as client:
        bodies = [
            (
                await client.post(
                    "/v1/chat/completions", json=chat(new_field=1), headers=bearer(key)
                )
            ).text
            for key in (KEY_A, wrong)
        ]
        bodies.append((await client.post("/v1/chat/completions", headers=bearer(wrong))).text)
    assert any(r.name == "vtcr1.api" for r in caplog.records), "expected our request's log"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_text or "")
        assert KEY_A not in text and wrong not in text, text
    assert all(KEY_A not in b and wrong not in b for b in bodies)


async def noop_app(scope: Scope, receive: Receive, send: Send) -> None:
    return None


def test_every_key_is_compared(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit on a match: the work done is the same whichever key matches."""
    calls: list[int] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(1)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    settings = Settings(api_keys=[KEY_A, KEY_B, KEY_FILE])
    auth = ApiKeyAuth(noop_app, digests=load_key_digests(settings), metrics_open=True)
    for token, expected in ((KEY_A, True), (KEY_FILE, True), ("nope", False), (None, False)):
        calls.clear()
        assert auth.valid(token) is expected
        assert len(calls) == 3
