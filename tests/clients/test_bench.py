"""`vtcr1 bench` end to end against the fake server, and its arithmetic on known records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from clients import bench
from tests.clients.conftest import Fake


def run_bench(fake: Fake, out: Path, *extra: str) -> int:
    argv = ["--base-url", fake.url, "--out", str(out), "--no-progress", "--warmup", "0"]
    return bench.main([*argv, *extra])


def test_sweep_writes_report_plots_and_ratio(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert run_bench(fake, out, "--concurrency", "1,2", "--requests", "4") == 0
    report = json.loads((out / "bench.json").read_text())
    levels = {(lv["mode"], lv["concurrency"]): lv for lv in report["levels"]}
    assert set(levels) == {("vtc", 1), ("vtc", 2), ("baseline", 1), ("baseline", 2)}
    for lv in levels.values():
        assert lv["requests"] == lv["ok"] == 4 and lv["errors"] == 0 and lv["skipped"] == 0
        assert 0 < lv["latency_p50_s"] <= lv["latency_p95_s"] <= lv["latency_p99_s"]
        assert lv["ttft_p50_s"] is not None and lv["ttft_p50_s"] <= lv["latency_p99_s"]
        assert lv["requests_per_s"] > 0 and lv["output_tokens_per_s"] > 0
    assert levels[("vtc", 1)]["rounds_mean"] == 2.0
    assert levels[("baseline", 1)]["rounds_mean"] == 1.0
    assert levels[("vtc", 1)]["compression_ratio"] > 0
    assert levels[("baseline", 1)]["compression_ratio"] is None
    assert [r["concurrency"] for r in report["ratios"]] == [1, 2]
    for row in report["ratios"]:
        lv_v, lv_b = levels[("vtc", row["concurrency"])], levels[("baseline", row["concurrency"])]
        expected = lv_v["latency_mean_s"] / lv_b["latency_mean_s"]
        assert row["vtc_over_baseline_mean"] == pytest.approx(expected, rel=1e-3)
    # every request went out with its mode; same prompts for both modes
    assert len(report["requests"]) == 16 and len(fake.state.requests) == 16
    sent = [(b["vtc"]["mode"], b["messages"][0]["content"]) for b in fake.state.requests]
    vtc_prompts = sorted(p for m, p in sent if m == "vtc")
    assert vtc_prompts == sorted(p for m, p in sent if m == "baseline")
    for name in ("latency_vs_concurrency.png", "latency_vs_length.png"):
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.size[0] > 100
        assert str(out / name) in report["plots"]
    stdout = capsys.readouterr().out
    assert "VTC/baseline end-to-end latency at concurrency 1:" in stdout
    assert "VTC/baseline end-to-end latency at concurrency 2:" in stdout


def test_concurrency_level_is_reached_and_never_exceeded(fake: Fake, tmp_path: Path) -> None:
    fake.state.barrier = 3  # each request waits until 3 are in flight
    argv = ["--concurrency", "3", "--requests", "6", "--modes", "vtc", "--no-plots"]
    assert run_bench(fake, tmp_path, *argv) == 0
    assert fake.state.max_in_flight == 3
    assert len(fake.state.requests) == 6


def test_errors_and_timeouts_are_counted_not_fatal(fake: Fake, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("fine\nplease FAIL\nSLOW one\nalso fine\n")
    argv = ["--concurrency", "4", "--requests", "4", "--modes", "vtc", "--no-plots"]
    argv += ["--prompts", str(prompts), "--timeout", "1"]
    assert run_bench(fake, tmp_path, *argv) == 0
    (level,) = json.loads((tmp_path / "bench.json").read_text())["levels"]
    assert level["ok"] == 2 and level["errors"] == 2
    assert level["error_kinds"] == {"http_500": 1, "timeout": 1}


def test_time_limit_stops_the_sweep(
    fake: Fake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_bench(fake, tmp_path, "--time-limit", "0", "--requests", "5", "--no-plots") == 0
    assert fake.state.requests == []
    report = json.loads((tmp_path / "bench.json").read_text())
    assert all(lv["skipped"] == 5 and lv["ok"] == 0 for lv in report["levels"])
    assert "time limit reached: 30 request(s) not sent" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--concurrency", "0"],
        ["--concurrency", "1,x"],
        ["--modes", "vtc,fast"],
        ["--requests", "0"],
        ["--requests", "100000"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main([*argv, "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_summarize_and_ratios_on_known_records() -> None:
    def rec(latency: float, ok: bool = True, **kw: object) -> dict[str, object]:
        base: dict[str, object] = {"ok": ok, "latency_s": latency, "ttft_s": latency / 10}
        base.update(completion_tokens=100, rounds=2, reasoning_tokens=60, vision_tokens=20)
        base.update(kw)
        return base

    records = [rec(1.0), rec(2.0), rec(3.0), rec(4.0), rec(9.0, ok=False, error_kind="timeout")]
    lv = bench.summarize(records, 10.0, mode="vtc", concurrency=2)
    assert lv["requests"] == 5 and lv["ok"] == 4 and lv["errors"] == 1
    assert lv["error_kinds"] == {"timeout": 1}
    assert lv["latency_p50_s"] == 2.5 and lv["latency_mean_s"] == 2.5
    assert lv["requests_per_s"] == 0.4 and lv["output_tokens_per_s"] == 40.0
    assert lv["compression_ratio"] == 3.0 and lv["rounds_mean"] == 2.0
    base = bench.summarize([rec(5.0, rounds=1)], 5.0, mode="baseline", concurrency=2)
    (row,) = bench.ratios([lv, base])
    assert row == {
        "concurrency": 2,
        "vtc_over_baseline_mean": 0.5,
        "vtc_over_baseline_p50": 0.5,
        "speedup": 2.0,
    }
    table = bench.format_table([lv, base])
    assert "3.00x" in table and "baseline" in table
