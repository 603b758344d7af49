"""`vtcr1 chat` and `vtcr1 bench` against the real gateway (`server.api.app`) on a scripted
engine, over real HTTP: the clients must read what the real server sends, not only the fake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from clients import bench, chat
from server.api.app import create_app
from server.settings import Settings
from tests.loop.scripted import ScriptedEngine
from tests.support.live_server import live_server

UNFINISHED = "let me think about this problem step by step carefully " * 8
FINAL = "so it is five </think> The answer is 5. <answer>5</answer>"


def test_chat_streams_rounds_and_saves_pages(
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
    assert "pages 0" not in round_lines[0] and "pages 0 " in round_lines[1]
    answer_at = lines.index("Answer:")
    assert lines[answer_at + 1] == "The answer is 5. <answer>5</answer>"
    assert "rounds 2" in lines[-1] and "finished yes" in lines[-1]
    saved = sorted(pages_dir.iterdir())
    n_pages = int(round_lines[0].split("pages ")[1].split(" ")[0])
    assert len(saved) == n_pages >= 1
    with Image.open(saved[0]) as image:
        assert image.format == "PNG"


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
