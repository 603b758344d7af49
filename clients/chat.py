"""`vtcr1 chat`: ask one question and watch the VTC loop work.

The reasoning streams as it is generated (dimmed on a terminal, so the answer stands out), each
finished round prints one line with its pages, vision tokens and compression (the point of
VTC: how much text became how few image tokens), then the answer and a summary. Output is plain
when stdout is not a terminal, so it can be piped or saved.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from clients.common import (
    COMMAND_ERRORS,
    add_connection_args,
    add_sampling_args,
    add_vtc_args,
    error_text,
    make_client,
    resolve_model,
    vtc_from_args,
)
from clients.stream import StreamResult, decode_data_url, stream_chat

DIM = "\x1b[2m"
BOLD = "\x1b[1m"
CYAN = "\x1b[36m"
RESET = "\x1b[0m"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtcr1 chat",
        description="Stream one question through an OpenAI-compatible VTC-R1 server.",
    )
    parser.add_argument("question", nargs="?", help="the question (default: read from stdin)")
    add_connection_args(parser)
    add_vtc_args(parser)
    add_sampling_args(parser)
    parser.add_argument("--system", default=None, help="an extra system message")
    parser.add_argument(
        "--save-pages", type=Path, default=None, metavar="DIR", help="write rendered pages here"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the answer (no reasoning)"
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="ANSI styling (default: when stdout is a terminal)",
    )
    return parser


def _fmt_ratio(value: Any) -> str:
    return f"{float(value):.2f}x" if isinstance(value, int | float) else "-"


def round_line(entry: dict[str, Any]) -> str:
    """The one-line summary of a finished round."""
    generated = entry.get("generated_tokens")
    vision = entry.get("vision_tokens") or 0
    ratio = generated / vision if isinstance(generated, int) and vision else None
    parts = [
        f"round {entry.get('round', '?')}",
        f"generated {generated if generated is not None else '-'} tokens",
        f"pages {entry.get('pages', 0)}",
        f"vision tokens {vision}",
        f"compression {_fmt_ratio(ratio)}",
    ]
    latency = entry.get("latency_s")
    if isinstance(latency, int | float):
        parts.append(f"{latency:.2f}s")
    return "[" + " | ".join(parts) + "]"


def summary_line(result: StreamResult) -> str:
    vtc = result.vtc or {}
    parts = [f"latency {result.latency_s:.2f}s"]
    if result.ttft_s is not None:
        parts.append(f"ttft {result.ttft_s:.2f}s")
    if vtc:
        parts += [
            f"mode {vtc.get('mode', '-')}",
            f"rounds {vtc.get('rounds', '-')}",
            f"finished {'yes' if vtc.get('finished') else 'no'}",
            f"pages {vtc.get('pages', 0)}",
            f"reasoning tokens {vtc.get('reasoning_tokens', '-')}",
            f"vision tokens {vtc.get('vision_tokens', '-')}",
            f"compression {_fmt_ratio(vtc.get('compression_ratio'))}",
        ]
    if result.completion_tokens is not None:
        parts.append(f"completion tokens {result.completion_tokens}")
    if result.finish_reason:
        parts.append(f"finish {result.finish_reason}")
    return "[" + " | ".join(parts) + "]"


class Printer:
    """Writes the stream to a text file, styled or plain. Keeps track of line starts so round
    lines always begin on their own line."""

    def __init__(self, out: TextIO, *, color: bool, quiet: bool) -> None:
        self.out = out
        self.color = color
        self.quiet = quiet
        self.at_line_start = True
        self.answer_started = False

    def _write(self, text: str, style: str = "") -> None:
        if not text:
            return
        self.out.write(f"{style}{text}{RESET}" if style and self.color else text)
        self.out.flush()
        self.at_line_start = text.endswith("\n")

    def newline(self) -> None:
        if not self.at_line_start:
            self._write("\n")

    def reasoning(self, text: str) -> None:
        if not self.quiet:
            self._write(text, DIM)

    def round(self, entry: dict[str, Any]) -> None:
        if not self.quiet:
            self.newline()
            self._write(round_line(entry) + "\n", CYAN)

    def content(self, text: str) -> None:
        if not self.answer_started:
            self.answer_started = True
            if not self.quiet:
                self.newline()
                self._write("Answer:\n", BOLD)
            text = text.lstrip("\n")
        self._write(text)

    def done(self, result: StreamResult) -> None:
        self.newline()
        if not self.quiet:
            self._write(summary_line(result) + "\n", CYAN)


def save_pages(pages: list[str], directory: Path) -> list[Path]:
    """Write data-URL pages as page_001.png, page_002.png, ... in reading order."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, url in enumerate(pages, start=1):
        path = directory / f"page_{i:03d}.png"
        path.write_bytes(decode_data_url(url))
        paths.append(path)
    return paths


async def run(args: argparse.Namespace, question: str, out: TextIO, err: TextIO) -> int:
    color = args.color == "always" or (args.color == "auto" and out.isatty())
    printer = Printer(out, color=color, quiet=args.quiet)
    client = make_client(args.base_url, args.api_key, timeout=args.timeout)
    try:
        model = await resolve_model(client, args.model)
        messages: list[dict[str, Any]] = []
        if args.system:
            messages.append({"role": "system", "content": args.system})
        messages.append({"role": "user", "content": question})
        body = vtc_from_args(args, return_pages=args.save_pages is not None)
        result = await stream_chat(
            client,
            model=model,
            messages=messages,
            vtc=body,
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            on_reasoning=printer.reasoning,
            on_content=printer.content,
            on_round=printer.round,
        )
    except COMMAND_ERRORS as exc:
        printer.newline()
        err.write(f"vtcr1 chat: {error_text(exc)}\n")
        return 1
    finally:
        await client.close()
    printer.done(result)
    if args.save_pages is not None:
        pages = result.page_images
        paths = save_pages(pages, args.save_pages)
        err.write(f"saved {len(paths)} page(s) to {args.save_pages}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    question = args.question
    if question is None or question == "-":
        question = sys.stdin.read()
    question = question.strip()
    if not question:
        sys.stderr.write("vtcr1 chat: no question (pass it as an argument or on stdin)\n")
        return 2
    try:
        return asyncio.run(run(args, question, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
