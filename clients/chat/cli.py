"""`vtcr1 chat`: the flags, the question and documents read in (`main`), the messages built
(`build_messages`), and the one streamed request (`ask`), printed by `view.Printer` and saved by
`pages.PageSaver` as it arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any, TextIO

from clients.chat.pages import PageSaver
from clients.chat.view import Printer
from clients.common import (
    COMMAND_ERRORS,
    add_compress_input_args,
    add_connection_args,
    add_sampling_args,
    add_vtc_args,
    check_compress_input,
    error_text,
    make_client,
    resolve_model,
    vtc_from_args,
)
from clients.stream import StreamResult, stream_chat


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vtcr1 chat",
        description="Stream one question through an OpenAI-compatible VTC-R1 server.",
    )
    parser.add_argument("question", nargs="?", help="the question (default: read from stdin)")
    add_connection_args(parser)
    add_vtc_args(parser)
    add_compress_input_args(parser)
    add_sampling_args(parser)
    parser.add_argument("--system", default=None, help="an extra system message")
    parser.add_argument(
        "--document",
        action="append",
        default=[],
        metavar="FILE",
        help="a document sent before the question as its own text part ('-': stdin); repeatable",
    )
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


class InputError(Exception):
    """The question or a document cannot be read: exit status 2, like a bad flag."""


def read_documents(names: list[str]) -> list[str]:
    """The documents' texts in the order given; `-` is stdin (once, and then the question must
    be an argument)."""
    if names.count("-") > 1:
        raise InputError("stdin can hold one document only")
    texts = []
    for name in names:
        if name == "-":
            texts.append(sys.stdin.read())
            continue
        try:
            texts.append(Path(name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read document {name}: {exc}") from exc
    return texts


def read_question(args: argparse.Namespace) -> str:
    """The question argument, else stdin (unless a document took stdin)."""
    question = args.question
    if question is None or question == "-":
        if "-" in args.document:
            raise InputError("a document is read from stdin: pass the question as an argument")
        question = sys.stdin.read()
    question = question.strip()
    if not question:
        raise InputError("no question (pass it as an argument or on stdin)")
    return question


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_compress_input(parser, args)
    try:
        question = read_question(args)
        documents = read_documents(args.document)
    except InputError as exc:
        sys.stderr.write(f"vtcr1 chat: {exc}\n")
        return 2
    try:
        return asyncio.run(run(args, question, sys.stdout, sys.stderr, documents))
    except KeyboardInterrupt:
        return 130
