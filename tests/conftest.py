"""Shared session fixtures: the tiny model, one in-process vLLM engine, one `vllm serve` replica.

A vLLM engine takes ~30 s to start on two CPU cores, so each is started at most once per test
session and only when a test asks for it (`vllm_server` only for the remote-engine tests).
Tests that use them should carry the `engine` marker (`pytest -m "not engine"` skips them).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from server.engines.platforms import detected_kind, tiny_engine_profile
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.support.vllm_process import TEST_ENV, VllmServer, group_alive

# Before anything imports vLLM: small KV cache, loopback, offline, no telemetry.
for _key, _value in TEST_ENV.items():
    os.environ.setdefault(_key, _value)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The context the engine tests use: room for a few 352-token pages plus a reply.
TEST_MAX_MODEL_LEN = 4096
TEST_MAX_IMAGES = 8
SERVED_NAME = "vtcr1-tiny"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny GLM-4.1V, built once per session (~4 s) through the same cache path as
    `make serve` (`ensure_tiny_model`)."""
    from server.tiny_model import ensure_tiny_model

    return ensure_tiny_model(tmp_path_factory.mktemp("tiny-model-cache"))


# How the tiny model runs on this build: eager bf16 on CPU; CUDA graphs, dtype auto and a
# GPU memory share per engine on a GPU (server/engines/platforms.py).
PROFILE = tiny_engine_profile(detected_kind())


@pytest.fixture(scope="session")
def engine_settings(tiny_model_dir: Path) -> Settings:
    """Settings both engines of the test session are built from."""
    return Settings(
        model=str(tiny_model_dir),
        served_model_name=SERVED_NAME,
        dtype=PROFILE.dtype,
        max_model_len=TEST_MAX_MODEL_LEN,
        max_images_per_prompt=TEST_MAX_IMAGES,
        enforce_eager=PROFILE.enforce_eager,
        gpu_memory_utilization=PROFILE.gpu_memory_utilization,
        enable_prefix_caching=True,
    )


@pytest.fixture(scope="session")
async def vllm_engine(engine_settings: Settings) -> AsyncIterator[VllmLocalEngine]:
    """The session's in-process vLLM engine (`VllmLocalEngine`) on the tiny model. After the
    session it is shut down and must leave no vLLM process behind."""
    import psutil

    from server.engines.factory import create_engine

    engine = await create_engine(engine_settings)
    assert isinstance(engine, VllmLocalEngine)
    yield engine
    await engine.aclose()
    # Ours only: `vllm serve` children run in their own process group. vLLM force-kills an
    # engine core that is slow to exit; reap it before judging.
    group = os.getpgrp()
    procs = [
        p
        for p in psutil.Process().children(recursive=True)
        if "VLLM" in p.name() and _pgid(p.pid) == group
    ]
    _, alive = psutil.wait_procs(procs, timeout=15)
    leftover = [p.name() for p in alive]
    assert not leftover, f"vLLM processes left after aclose: {leftover}"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


@pytest.fixture(scope="session")
def vllm_server(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VllmServer]:
    """One `vllm serve` child on the tiny model, started the first time a test needs it.
    Its log is in the session's temp dir (printed on start failure)."""
    log_path = tmp_path_factory.mktemp("vllm-serve") / "serve.log"
    server = VllmServer(
        str(tiny_model_dir),
        served_model_name=SERVED_NAME,
        log_path=log_path,
        max_model_len=TEST_MAX_MODEL_LEN,
        max_images_per_prompt=TEST_MAX_IMAGES,
        extra_args=PROFILE.serve_flags(),
    )
    try:
        server.start()
    except Exception:
        print(log_path.read_text(errors="replace")[-5000:])
        raise
    yield server
    server.stop()
    assert server.pgid is not None and not group_alive(server.pgid), "vllm serve left processes"
