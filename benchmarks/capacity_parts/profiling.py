"""`--profile S`: py-spy on each gateway during one extra run at concurrency S.

The profiled run is separate from the measured one: py-spy's native sampling pauses the
process for every sample, which slows it and distorts its latencies, but not which stage the
event loop is in when it is busy. The stage shares (`stages.py`) are scaled by the gateway's
CPU per relayed token from the unprofiled run at the same S.

py-spy is not a dependency of the project: `.venv/bin/pip install py-spy` (or put it on PATH).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

RATE_HZ = 200


def find_py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy (or put it on PATH)")
    return found


@contextlib.contextmanager
def py_spy(pid: int, raw: Path) -> Iterator[None]:
    """Sample `pid` (native frames, raw collapsed stacks into `raw`) while the block runs."""
    command = [find_py_spy(), "record", "--pid", str(pid), "--native", "--rate", str(RATE_HZ)]
    command += ["--format", "raw", "--output", str(raw)]
    with open(raw.with_suffix(".log"), "wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output when interrupted
        proc.wait(timeout=120)
