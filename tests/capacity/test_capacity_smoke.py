"""The capacity benchmark end to end, small: stand-in upstream, gateway process, load client.

`--quick --no-litellm` runs S=4 VTC requests of 2 rounds through direct and the gateway (~25 s
on two busy cores, most of it the gateway's start). It must produce the JSON the docs and
`make gpu-check` read, with no errors, every token relayed and pages really rendered.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_table_json_and_plot(tmp_path: Path, tiny_model_dir: Path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "benchmarks" / "capacity.py"), "--quick"]
    command += ["--no-litellm", "--out", str(out), "--model", str(tiny_model_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "us/tok" in done.stdout and "share this machine" in done.stdout

    payload = json.loads((out / "capacity.json").read_text())
    assert (out / "capacity.png").stat().st_size > 10_000
    rows = {row["path"]: row for row in payload["rows"]}
    assert set(rows) == {"direct", "gateway"}
    for row in rows.values():
        assert row["concurrency"] == 4
        assert row["errors"] == 0, row["error_examples"]
        assert row["tokens"] == 4 * 2 * 48  # S x R x round tokens, each mapped to its arrival
        assert row["itl_added_p99_ms"] is not None and row["ttft_added_p50_ms"] is not None
        # The kernel counts process CPU in clock ticks (10 ms): the stand-in and the client
        # spend a few ms on this run's 384 tokens and may read 0; they must be measured.
        assert row["cpu"]["upstream"]["us_per_token"] >= 0
        assert row["cpu"]["client"]["us_per_token"] >= 0
    gateway = rows["gateway"]
    # The gateway's ~60 ms (8 round requests, 4 pages, 384 tokens) are several ticks.
    assert gateway["cpu"]["proxy"]["us_per_token"] > 0
    assert gateway["pages"] == 4  # round 1 of each request rendered to a page for round 2
    assert gateway["gap_p50_ms"] is not None
    # Whether S=4 is past the knee depends on the machine's load; the summary says either way.
    assert set(payload["summary"]) == {"direct", "gateway"}
    assert "knee_concurrency" in payload["summary"]["gateway"]
    assert payload["machine"]["cores"] and payload["date"]
