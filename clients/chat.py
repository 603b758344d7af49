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
from collections import Counter
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


def page_line(page: dict[str, Any], saved: Path | None = None) -> str:
    """The line of one streamed page: input pages (round 0) say so instead of a round."""
    index = page.get("index", "?")
    if page.get("kind") == "input":
        parts = [f"input page {index}"]
    else:
        parts = [f"page {index}", f"round {page.get('round', '?')}"]
    parts.append(f"vision tokens {page.get('vision_tokens', '-')}")
    width, height = page.get("width"), page.get("height")
    if isinstance(width, int) and isinstance(height, int):
        parts.append(f"{width}x{height}")
    if saved is not None:
        parts.append(f"saved {saved}")
    return "[" + " | ".join(parts) + "]"


def input_parts(info: Any) -> list[str]:
    """The summary's words on `vtc.input` (what `--compress-input` turned into pages)."""
    if not isinstance(info, dict):
        return []
    return [
        f"input pages {info.get('pages', 0)}",
        f"input text tokens {info.get('text_tokens', '-')}",
        f"input vision tokens {info.get('vision_tokens', '-')}",
        f"input compression {_fmt_ratio(info.get('compression_ratio'))}",
    ]


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
            *input_parts(vtc.get("input")),
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

    def page(self, page: dict[str, Any], saved: Path | None) -> None:
        if not self.quiet:
            self.newline()
            self._write(page_line(page, saved) + "\n", CYAN)

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


class PageSaver:
    """Writes each page the moment its chunk arrives: `page_001.png`, `page_002.png`, ... for
    reasoning pages (the request's page index, so reading order), `input_001.png`, ... for the
    input pages of `--compress-input` (their index counts from 1 too, hence their own prefix)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.saved: Counter[str] = Counter()

    def save(self, page: dict[str, Any]) -> Path | None:
        url = page.get("url")
        if not isinstance(url, str):
            return None
        kind = "input" if page.get("kind") == "input" else "page"
        index = page.get("index")
        if not isinstance(index, int):  # not in the contract: number them as they come
            index = self.saved[kind] + 1
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{kind}_{index:03d}.png"
        path.write_bytes(decode_data_url(url))
        self.saved[kind] += 1
        return path

    def summary(self) -> str:
        text = f"saved {self.saved['page']} page(s)"
        if self.saved["input"]:
            text += f" and {self.saved['input']} input page(s)"
        return f"{text} to {self.directory}"


def build_messages(
    args: argparse.Namespace, question: str, documents: list[str]
) -> list[dict[str, Any]]:
    """The system message if any, then the user turn: the question alone as a string, or with
    documents, one text part per document followed by the question as the last text part (the
    part `vtc.compress_input` keeps as text)."""
    messages: list[dict[str, Any]] = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    if documents:
        parts = [{"type": "text", "text": text} for text in [*documents, question]]
        messages.append({"role": "user", "content": parts})
    else:
        messages.append({"role": "user", "content": question})
    return messages


async def ask(
    args: argparse.Namespace,
    messages: list[dict[str, Any]],
    printer: Printer,
    saver: PageSaver | None,
) -> StreamResult:
    """The one streamed request, printed (and its pages saved) as it arrives."""

    def on_page(page: dict[str, Any]) -> None:
        printer.page(page, saver.save(page) if saver is not None else None)

    client = make_client(args.base_url, args.api_key, timeout=args.timeout)
    try:
        model = await resolve_model(client, args.model)
        # Pages cost bandwidth (a base64 PNG each): asked for only when shown or saved.
        wants_pages = not args.quiet or saver is not None
        return await stream_chat(
            client,
            model=model,
            messages=messages,
            vtc=vtc_from_args(args, stream_pages=wants_pages),
            temperature=args.temperature,
            top_p=args.top_p,
            max_tokens=args.max_tokens,
            on_reasoning=printer.reasoning,
            on_content=printer.content,
            on_round=printer.round,
            on_page=on_page,
        )
    finally:
        await client.close()


async def run(
    args: argparse.Namespace,
    question: str,
    out: TextIO,
    err: TextIO,
    documents: list[str] | None = None,
) -> int:
    color = args.color == "always" or (args.color == "auto" and out.isatty())
    printer = Printer(out, color=color, quiet=args.quiet)
    saver = PageSaver(args.save_pages) if args.save_pages is not None else None
    messages = build_messages(args, question, documents or [])
    try:
        result = await ask(args, messages, printer, saver)
    except COMMAND_ERRORS as exc:
        printer.newline()
        err.write(f"vtcr1 chat: {error_text(exc)}\n")
        if saver is not None and saver.saved.total():
            err.write(saver.summary() + "\n")
        return 1
    printer.done(result)
    if saver is not None:
        err.write(saver.summary() + "\n")
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
