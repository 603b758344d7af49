"""One `vtcr1 serve` process on the tiny model for every client of the compatibility tests.

Settings mirror the session engine of tests/conftest.py (4096 context, 8 images, bf16, eager),
with rounds kept short (2 rounds of 16 tokens: a request takes well under a second) so the
clients' few requests cost little next to the engine's start, which is paid once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.gateway import Gateway
from tests.conftest import SERVED_NAME, TEST_MAX_IMAGES, TEST_MAX_MODEL_LEN

ROUNDS = 2
ROUND_TOKENS = 16


@pytest.fixture(scope="session")
def gateway(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    log_path = tmp_path_factory.mktemp("compat-gateway") / "serve.log"
    args = ["--model", str(tiny_model_dir), "--served-model-name", SERVED_NAME]
    args += ["--max-model-len", str(TEST_MAX_MODEL_LEN)]
    args += ["--max-images-per-prompt", str(TEST_MAX_IMAGES)]
    args += ["--dtype", "bfloat16", "--enforce-eager", "--shutdown-grace-s", "5"]
    args += ["--max-rounds", str(ROUNDS), "--round-max-tokens", str(ROUND_TOKENS)]
    server = Gateway(args, log_path=log_path).start()
    print(f"compat gateway ready in {server.startup_s:.1f} s at {server.base_url}")
    yield server
    server.stop()
    assert server.leftover == [], f"vtcr1 serve left processes after SIGTERM: {server.leftover}"
