"""What every client command shares: its connection and `vtc` flags, the OpenAI client, the
`vtc` request object, and how a failed request is reported.

The clients speak only the OpenAI wire protocol (through the official SDK), so they work against
this server and against any other OpenAI-compatible endpoint (a plain `vllm serve` included);
reading a stream is `clients/stream.py`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any

import httpx
import openai

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
# The SDK refuses to start without a key; local servers ignore it.
DEFAULT_API_KEY = "EMPTY"
MODES = ("vtc", "baseline")
IMAGE_ORDERS = ("images_first", "question_first")
COMPRESS_SCOPES = ("documents", "history", "all")
# The server's default threshold too; sent explicitly so a results file says what was asked.
COMPRESS_MIN_TOKENS = 2048


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """--base-url / --api-key / --model / --timeout, identical for every command."""
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help=f"OpenAI-compatible base URL (default: {DEFAULT_BASE_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        help="API key (default: $OPENAI_API_KEY, else 'EMPTY')",
    )
    parser.add_argument(
        "--model", default=None, help="model name (default: the first of GET /v1/models)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600.0,
        help="seconds one request may take before it counts as failed (default: 3600)",
    )


def add_vtc_args(parser: argparse.ArgumentParser, *, with_mode: bool = True) -> None:
    """The `vtc` extension knobs; unset ones are not sent, so the server's defaults apply."""
    if with_mode:
        parser.add_argument("--mode", choices=MODES, default=None, help="vtc or baseline")
    parser.add_argument("--max-rounds", type=int, default=None, help="VTC rounds at most")
    parser.add_argument(
        "--round-max-tokens", type=int, default=None, help="tokens generated per round at most"
    )
    parser.add_argument("--image-order", choices=IMAGE_ORDERS, default=None)


def _scope(text: str) -> str:
    if text not in COMPRESS_SCOPES:
        # argparse hands an optional value the next word, so `--compress-input "question"` lands
        # here: say how to write it instead of only "invalid choice".
        raise argparse.ArgumentTypeError(
            f"scope is one of {', '.join(COMPRESS_SCOPES)}, not {text!r} (a question goes "
            "before --compress-input, or name the scope: --compress-input documents)"
        )
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_compress_input_args(parser: argparse.ArgumentParser) -> None:
    """--compress-input [SCOPE] / --compress-input-min-tokens N: `vtc.compress_input`, off by
    default (whether reading long inputs as pages keeps accuracy is the user's call)."""
    parser.add_argument(
        "--compress-input",
        nargs="?",
        const="documents",
        default=None,
        type=_scope,
        metavar="SCOPE",
        help="render long inputs as pages: documents (the default scope), history or all",
    )
    parser.add_argument(
        "--compress-input-min-tokens",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"only texts longer than N tokens (default {COMPRESS_MIN_TOKENS})",
    )


def compress_input_from(args: argparse.Namespace) -> dict[str, Any] | None:
    """The `vtc.compress_input` object of the flags, None when off (or the command has none)."""
    scope = getattr(args, "compress_input", None)
    if scope is None:
        return None
    min_tokens = getattr(args, "compress_input_min_tokens", None) or COMPRESS_MIN_TOKENS
    return {"min_tokens": min_tokens, "scope": scope}


def check_compress_input(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """A threshold without --compress-input would be silently ignored: refuse it (exit 2)."""
    if args.compress_input is None and args.compress_input_min_tokens is not None:
        parser.error("--compress-input-min-tokens needs --compress-input")


def add_sampling_args(
    parser: argparse.ArgumentParser,
    *,
    temperature: float | None = None,
    top_p: float | None = None,
) -> None:
    """--temperature / --top-p / --max-tokens. Left unset they are not sent (the server's
    defaults apply); eval passes the paper's 0.6 / 0.95 as its defaults."""
    parser.add_argument("--temperature", type=float, default=temperature)
    parser.add_argument("--top-p", type=float, default=top_p)
    parser.add_argument("--max-tokens", type=int, default=None, help="completion tokens at most")


def api_key_from(arg: str | None) -> str:
    return arg or os.environ.get("OPENAI_API_KEY") or DEFAULT_API_KEY


def make_client(
    base_url: str, api_key: str | None, *, timeout: float = 3600.0
) -> openai.AsyncOpenAI:
    """One async client per command. Retries are off: a benchmark must see every failure, and
    a retried reasoning request would silently double its latency."""
    return openai.AsyncOpenAI(
        base_url=base_url, api_key=api_key_from(api_key), timeout=timeout, max_retries=0
    )


async def resolve_model(client: openai.AsyncOpenAI, model: str | None) -> str:
    """The given model, else the first the server lists (a VTC server serves exactly one)."""
    if model:
        return model
    page = await client.models.list()
    for entry in page.data:
        return entry.id
    raise RuntimeError("the server lists no models; pass --model")


def vtc_body(
    *,
    mode: str | None = None,
    max_rounds: int | None = None,
    round_max_tokens: int | None = None,
    image_order: str | None = None,
    return_pages: bool = False,
    stream_pages: bool = False,
    compress_input: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `vtc` request object with only the fields the user set."""
    fields: dict[str, Any] = {
        "mode": mode,
        "max_rounds": max_rounds,
        "round_max_tokens": round_max_tokens,
        "image_order": image_order,
        "return_pages": True if return_pages else None,
        "stream_pages": True if stream_pages else None,
        "compress_input": compress_input,
    }
    return {name: value for name, value in fields.items() if value is not None}


def vtc_from_args(args: argparse.Namespace, **more: Any) -> dict[str, Any]:
    """The `vtc` object of a command's `add_vtc_args` flags (and `--mode`, `--compress-input`
    where it has them)."""
    return vtc_body(
        mode=getattr(args, "mode", None),
        max_rounds=args.max_rounds,
        round_max_tokens=args.round_max_tokens,
        image_order=args.image_order,
        compress_input=compress_input_from(args),
        **more,
    )


# What one failed request can raise: the SDK's errors, transport errors while a stream is being
# read (httpx's own, not wrapped by the SDK), timeouts, and malformed JSON in the stream.
REQUEST_ERRORS: tuple[type[BaseException], ...] = (
    openai.OpenAIError,
    httpx.HTTPError,
    OSError,
    TimeoutError,
    ValueError,
)
# ... and what else a command reports as a one-line failure (no model listed, ...).
COMMAND_ERRORS: tuple[type[BaseException], ...] = (*REQUEST_ERRORS, RuntimeError)


def error_kind(exc: BaseException) -> str:
    """A short bucket for error counts in reports."""
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, TimeoutError | openai.APITimeoutError | httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError):
        return "connection"
    return type(exc).__name__


def error_text(exc: BaseException) -> str:
    """One line for a failed request: the server's OpenAI-shaped message when there is one."""
    kind = error_kind(exc)
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        inner = body.get("error", body) if isinstance(body, Mapping) else None
        if isinstance(inner, Mapping) and inner.get("message"):
            return f"HTTP {exc.status_code}: {inner['message']}"
        return f"HTTP {exc.status_code}: {exc.message}"
    if kind == "timeout":
        return "timeout"
    if kind == "connection":
        return f"connection error: {type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}: {exc}"
