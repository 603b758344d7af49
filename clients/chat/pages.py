"""`vtcr1 chat --save-pages DIR`: each page written the moment its chunk arrives."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from clients.stream import decode_data_url


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
