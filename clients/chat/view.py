"""What `vtcr1 chat` prints: the reasoning (dimmed on a terminal, so the answer stands out), a
line per streamed page and per finished round, the answer, and a summary. Plain text when
stdout is not a terminal, so it can be piped or saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

from clients.stream import StreamResult

DIM = "\x1b[2m"
BOLD = "\x1b[1m"
CYAN = "\x1b[36m"
RESET = "\x1b[0m"


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
