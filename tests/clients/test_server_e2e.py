"""`vtcr1 chat` and `vtcr1 bench` against the real gateway (`server.api.app`) on a scripted
engine, over real HTTP: the clients must read what the real server sends, not only the fake."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from PIL import Image

from clients import bench, chat
from server.api.app import create_app
from server.settings import Settings
from tests.clients.page_contract import check_page_stream, sse_chunks
from tests.support.live_server import live_server
from tests.support.scripted import ScriptedEngine

UNFINISHED = "let me think about this problem step by step carefully " * 8
FINAL = "so it is five </think> The answer is 5. <answer>5</answer>"


def test_chat_streams_pages_rounds_and_saves_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = ScriptedEngine([UNFINISHED, FINAL])
    app = create_app(Settings(), engine=engine)
    pages_dir = tmp_path / "pages"
    with live_server(app) as base_url:
        argv = ["--base-url", base_url + "/v1", "--save-pages", str(pages_dir), "What is 2+3?"]
        assert chat.main(argv) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("let me think about this problem")
    round_lines = [line for line in lines if line.startswith("[round ")]
    assert len(round_lines) == 2
    assert "pages 0" not in round_lines[0]
    answer_at = lines.index("Answer:")
    assert lines[answer_at + 1] == "The answer is 5. <answer>5</answer>"
    assert "rounds 2" in lines[-1] and "finished yes" in lines[-1]
    # a line per streamed page, in order, before the summary (a page goes out once encoded:
    # after a round this fast, that may be after the round's own line)
    page_lines = [line for line in lines if line.startswith("[page ")]
    summary_pages = int(lines[-1].split("| pages ")[1].split(" ")[0])
    assert len(page_lines) == summary_pages >= 1
    for i, line in enumerate(page_lines, start=1):
        assert line.startswith(f"[page {i} | round 1 | vision tokens ")
    # each saved from its chunk, under the name the line gives
    saved = sorted(pages_dir.iterdir())
    assert [f.name for f in saved] == [f"page_{i:03d}.png" for i in range(1, summary_pages + 1)]
    assert all(f"saved {path}]" in line for path, line in zip(saved, page_lines, strict=True))
    with Image.open(saved[0]) as image:
        assert image.format == "PNG"
    assert captured.err == f"saved {summary_pages} page(s) to {pages_dir}\n"


def test_page_chunks_of_the_gateway_follow_the_contract() -> None:
    """The check the fake server is held to (tests/clients/page_contract.py), on the real one."""
    engine = ScriptedEngine([UNFINISHED, UNFINISHED, FINAL])
    app = create_app(Settings(), engine=engine)
    body = {
        "stream": True,
        "messages": [{"role": "user", "content": "What is 2+3?"}],
        "vtc": {"stream_pages": True},
    }
    with live_server(app) as base_url:
        model = httpx.get(f"{base_url}/v1/models").json()["data"][0]["id"]
        url = f"{base_url}/v1/chat/completions"
        response = httpx.post(url, json={**body, "model": model}, timeout=60)
    assert response.status_code == 200
    pages = check_page_stream(sse_chunks(response.text.splitlines()))
    assert {p["round"] for p in pages} >= {1, 2}  # both unfinished rounds released pages
    assert all(p["kind"] == "reasoning" for p in pages)


def test_bench_both_modes(tmp_path: Path) -> None:
    # concurrency 1: requests run in order, vtc (two rounds each) before baseline (one)
    engine = ScriptedEngine([UNFINISHED, FINAL] * 2 + [UNFINISHED + FINAL] * 2)
    app = create_app(Settings(), engine=engine)
    with live_server(app) as base_url:
        argv = ["--base-url", base_url + "/v1", "--concurrency", "1", "--requests", "2"]
        argv += ["--warmup", "0", "--no-progress", "--out", str(tmp_path)]
        assert bench.main(argv) == 0
    assert engine.outputs == []
    report = json.loads((tmp_path / "bench.json").read_text())
    levels = {lv["mode"]: lv for lv in report["levels"]}
    assert levels["vtc"]["ok"] == levels["baseline"]["ok"] == 2
    assert levels["vtc"]["rounds_mean"] == 2 and levels["baseline"]["rounds_mean"] == 1
    assert levels["vtc"]["compression_ratio"] > 0
    assert report["ratios"][0]["vtc_over_baseline_mean"] > 0
    assert (tmp_path / "latency_vs_concurrency.png").stat().st_size > 0
