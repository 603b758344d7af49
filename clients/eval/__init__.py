"""`vtcr1 eval`: accuracy on the paper's benchmarks through the OpenAI API, as the paper did it.

The question text alone is the user message; sampling is temperature 0.6 / top_p 0.95 with
k samples per problem (16 for AIME25 and AMC23, else 1); the graded answer is the `<answer>`
content after the final `</think>`. Runs take hours on real models, so every finished sample is
appended to DIR/results.jsonl at once and skipped when the command is run again: an interrupted
run resumes where it stopped. The report is rebuilt from that file at the end of each run.

One module per phase: `cli` (flags, the run), `results` (results.jsonl), `report` (the numbers
and the table).
"""

from clients.eval.cli import build_parser, main, run
from clients.eval.report import REPORT, build_report, format_report
from clients.eval.results import RESULTS, load_results, result_key

__all__ = [
    "REPORT",
    "RESULTS",
    "build_parser",
    "build_report",
    "format_report",
    "load_results",
    "main",
    "result_key",
    "run",
]
