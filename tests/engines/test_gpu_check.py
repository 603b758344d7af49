"""`make gpu-check` itself: its step runner and report with tiny steps, its output parsers on
real outputs of the tools it runs, and a quick real run of its engine-facing steps against the
session's `vllm serve` (the full run, engine tests included, is `make gpu-check`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.gpu_check.runner import (
    Step,
    StepFailed,
    StepUnavailable,
    report_json,
    report_markdown,
    run_steps,
    write_report,
)
from scripts.gpu_check.steps_engine import pytest_counts
from server.engines.platforms import detected_kind
from tests.support.vllm_process import VllmServer

ROOT = Path(__file__).resolve().parents[2]


def _boom() -> None:
    raise RuntimeError("crashed")


def _missing() -> None:
    raise StepUnavailable("tool not here")


def _check() -> None:
    raise StepFailed("3 != 4")


def test_the_runner_times_steps_and_skips_what_needs_a_failed_step() -> None:
    steps = [
        Step("a", "a works", lambda: {"n": 1}),
        Step("b", "b works", _check, ("a",)),
        Step("c", "c needs b", lambda: {"n": 3}, ("b",)),
        Step("d", "d crashes", _boom),
        Step("e", "e is missing here", _missing),
        Step("f", "f needs a", lambda: None, ("a",)),
    ]
    seen: list[str] = []
    results = run_steps(steps, on_result=lambda r: seen.append(r.name))
    assert seen == list("abcdef")
    by = {r.name: r for r in results}
    assert (by["a"].ok, by["a"].status, by["a"].numbers) == (True, "ok", {"n": 1})
    assert (by["b"].ok, by["b"].detail) == (False, "3 != 4")
    assert (by["c"].ok, by["c"].status, by["c"].detail) == (None, "skipped", "needs b")
    assert by["d"].ok is False and by["d"].detail and "RuntimeError: crashed" in by["d"].detail
    assert (by["e"].ok, by["e"].status) == (None, "not available")
    assert by["f"].ok is True
    assert all(r.seconds >= 0 for r in results)


def test_the_report_has_the_agreed_shape(tmp_path: Path) -> None:
    results = run_steps(
        [Step("a", "a works", lambda: {"tokens_per_s": 12.5}), Step("b", "x", _missing)]
    )
    report = report_json(results, {"vllm": "0.32.0"}, {"summary": "CPU"}, {"seconds": 1.0})
    assert report["ok"] is True  # "not available" is not a failure
    assert report["steps"][0] == {
        "name": "a",
        "ok": True,
        "seconds": report["steps"][0]["seconds"],
        "status": "ok",
        "tokens_per_s": 12.5,
    }
    assert set(report) >= {"steps", "versions", "device"}
    write_report(tmp_path, report, {"a": "a works"})
    assert json.loads((tmp_path / "report.json").read_text()) == report
    markdown = (tmp_path / "report.md").read_text()
    assert markdown == report_markdown(report, {"a": "a works"})
    assert "| a | ok |" in markdown and "tokens_per_s=12.5" in markdown
    failed = report_json(run_steps([Step("z", "z", _check)]), {}, {}, {})
    assert failed["ok"] is False and "FAILED" in report_markdown(failed, {})


@pytest.mark.parametrize(
    ("tail", "counts"),
    [
        ("12 passed, 3 warnings in 81.20s (0:01:21)", (12, 0, 0, 0)),
        ("1 failed, 70 passed, 2 skipped, 34 warnings in 237.10s", (70, 1, 0, 2)),
        ("3 passed, 1 error in 5.00s", (3, 0, 1, 0)),
        ("no tests ran in 0.01s", (0, 0, 0, 0)),
    ],
)
def test_pytest_counts(tail: str, counts: tuple[int, int, int, int]) -> None:
    got = pytest_counts("...\n" + tail + "\n")
    assert (got["passed"], got["failed"], got["error"], got["skipped"]) == counts


@pytest.mark.engine
def test_a_quick_run_against_the_session_replica(
    vllm_server: VllmServer, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The real steps after the engine tests, with the session's replica as the upstream: the
    gateway starts, chat / stream / pages / metrics pass, the capacity benchmark runs its smoke
    sweep against the replica, the report is written."""
    steps = "platform,tiny-model,serve,gateway,api-chat,api-stream,api-pages,api-metrics,capacity"
    out = tmp_path / "gpu-check"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts.gpu_check",
            "--quick",
            "--steps",
            steps,
            "--upstream-url",
            vllm_server.base_url,
            "--out",
            str(out),
            "--cache-dir",
            str(tiny_model_dir.parent),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    status = {s["name"]: s["status"] for s in report["steps"]}
    assert all(status[name] == "ok" for name in steps.split(",")), status
    assert status["engine-tests"] == status["loop-gap"] == "skipped"
    by = {s["name"]: s for s in report["steps"]}
    kind = detected_kind()  # the same test runs in gpu-check's engine tests on a GPU
    assert by["platform"]["kind"] == report["device"]["kind"] == kind
    assert by["platform"]["cpu_fixes_loaded"] is (kind == "cpu")
    assert by["serve"]["external"] == vllm_server.base_url
    assert by["api-chat"]["rounds"] == 2 and by["api-pages"]["pages"] >= 1
    assert by["api-metrics"]["requests"] >= 3
    assert by["capacity"]["scale"] == "--quick"
    assert {"direct", "gateway"} <= set(by["capacity"]["summary"])
    assert ("CPU run" in report["run"]["note"]) is (kind == "cpu")
    assert (out / "report.md").read_text().startswith("# gpu-check: green")
