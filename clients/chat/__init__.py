"""`vtcr1 chat`: ask one question and watch the VTC loop work.

The reasoning streams as it is generated (dimmed on a terminal, so the answer stands out), each
page prints a line the moment the server streams it, each finished round one line with its
pages, vision tokens and compression (the point of VTC: how much text became how few image
tokens), then the answer and a summary. Output is plain when stdout is not a terminal, so it can
be piped or saved.

One module per job: `cli` (flags, input, the request), `view` (what is printed), `pages`
(`--save-pages`).
"""

from clients.chat.cli import build_messages, build_parser, main, run
from clients.chat.pages import PageSaver
from clients.chat.view import BOLD, CYAN, DIM, RESET, Printer, page_line, round_line, summary_line

__all__ = [
    "BOLD",
    "CYAN",
    "DIM",
    "RESET",
    "PageSaver",
    "Printer",
    "build_messages",
    "build_parser",
    "main",
    "page_line",
    "round_line",
    "run",
    "summary_line",
]
