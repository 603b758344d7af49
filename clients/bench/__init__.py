"""`vtcr1 bench`: a concurrency sweep of VTC against the baseline on the same server.

For each concurrency level, each mode gets the same prompts (modes alternate level by level so a
slow drift of the machine does not favour one), N requests with at most `c` in flight. Numbers
are measured on the client (latency, TTFT) and read from the server's `vtc` object (rounds,
compression). The run is bounded: at most N requests per mode and level, each cut off at
--timeout, and no new request starts after --time-limit.

One module per phase: `cli` (flags, the run), `sweep` (warm-up, levels), `timing` (one timed
request), `report` (numbers, table, bench.json), `plots` (the PNGs).
"""

from clients.bench.cli import build_parser, main, run
from clients.bench.report import format_table, ratios, summarize
from clients.bench.sweep import SweepPlan, run_level, sweep
from clients.bench.timing import Sampling, one_request

__all__ = [
    "Sampling",
    "SweepPlan",
    "build_parser",
    "format_table",
    "main",
    "one_request",
    "ratios",
    "run",
    "run_level",
    "summarize",
    "sweep",
]
