"""`vtcr1 chat`, `bench` and `eval` end to end against the real gateway on the real in-process
vLLM engine (tiny model). The tiny model is random, so accuracy is ~0: what is checked is that
every number is computed and reported from real engine traffic."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from clients import bench, chat
from clients import eval as eval_cmd
from server.api.app import create_app
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from tests.clients.conftest import DATA as BENCHMARKS
from tests.conftest import SERVED_NAME
from tests.support.live_server import serving

pytestmark = pytest.mark.engine
SHORT = ["--max-rounds", "2", "--round-max-tokens", "48"]


@pytest.fixture
async def base_url(vllm_engine: VllmLocalEngine) -> AsyncIterator[str]:
    app = create_app(Settings(served_model_name=SERVED_NAME), engine=vllm_engine)
    async with serving(app) as url:
        yield url + "/v1"


async def test_chat_on_the_tiny_model(
    base_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--base-url", base_url, *SHORT, "--save-pages", str(tmp_path), "What is 2+2?"]
    assert await asyncio.to_thread(chat.main, argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rounds = [line for line in lines if line.startswith("[round ")]
    assert len(rounds) == 2 and "rounds 2" in lines[-1]
    # every page the engine's output was rendered into: streamed, shown and saved once each
    pages = [line for line in lines if line.startswith("[page ")]
    summary_pages = int(lines[-1].split("| pages ")[1].split(" ")[0])
    assert len(pages) == summary_pages >= 1
    saved = sorted(tmp_path.glob("page_*.png"))
    assert [f.name for f in saved] == [f"page_{i:03d}.png" for i in range(1, summary_pages + 1)]
    for path in saved:
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
        assert any(f"{width}x{height} | saved {path}]" in line for line in pages)


async def test_bench_on_the_tiny_model(base_url: str, tmp_path: Path) -> None:
    argv = ["--base-url", base_url, "--concurrency", "1,2", "--requests", "2", *SHORT]
    argv += ["--warmup", "0", "--no-progress", "--out", str(tmp_path)]
    assert await asyncio.to_thread(bench.main, argv) == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    levels = report["levels"]
    assert {(lv["mode"], lv["concurrency"]) for lv in levels} == {
        (m, c) for m in ("vtc", "baseline") for c in (1, 2)
    }
    assert all(lv["ok"] == 2 and lv["errors"] == 0 for lv in levels)
    assert all(lv["latency_p50_s"] > 0 for lv in levels)
    assert report["ratios"]
    assert list(tmp_path.glob("*.png"))


async def test_eval_on_the_tiny_model(base_url: str, tmp_path: Path) -> None:
    argv = ["--data", str(BENCHMARKS / "gsm8k.jsonl"), "--dataset", "gsm8k"]
    argv += ["--base-url", base_url, "--limit", "3", "--concurrency", "2", *SHORT]
    argv += ["--out", str(tmp_path)]
    assert await asyncio.to_thread(eval_cmd.main, argv) == 0
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    report = json.loads((tmp_path / "report.json").read_text())["gsm8k"]
    assert report["n_problems"] == 3 and report["n_samples"] == 3
    assert 0.0 <= report["accuracy"] <= 1.0
    assert report["mean_rounds"] == 2 and report["mean_latency_s"] > 0
    assert report["compression_ratio"] is not None
