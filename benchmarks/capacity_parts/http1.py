"""Just enough HTTP/1.1 for the stand-in upstream and the load client, on bare asyncio protocols.

Why not aiohttp/httpx here: both ends of the benchmark share two cores with the proxy under
test, and every token crosses them. A bare protocol costs one event-loop wake-up and a few
bytes operations per socket read (30 us per token for a reader, against 72 us through aiohttp:
`benchmarks/upstream_read.py`), so more of the machine is left to the proxy being measured.
Only what the peers of this benchmark send is handled: requests with a Content-Length body,
responses with a chunked or Content-Length body (or one ended by closing the connection).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class HttpError(ValueError):
    """The peer sent something this parser does not speak."""


@dataclass
class Head:
    """A request or status line and its headers (names lower-cased)."""

    first_line: list[str]
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return None if value is None else int(value)

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


def split_head(buffer: bytes) -> tuple[Head, bytes] | None:
    """(head, the bytes after it), or None while the head is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > 65536:
            raise HttpError("header block too large")
        return None
    lines = buffer[:end].decode("latin-1").split("\r\n")
    head = Head(lines[0].split(" ", 2))
    for line in lines[1:]:
        name, _, value = line.partition(":")
        head.headers[name.strip().lower()] = value.strip()
    return head, buffer[end + 4 :]


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"


class ChunkedDecoder:
    """De-chunks a chunked body fed in arbitrary pieces; `done` after the last chunk."""

    def __init__(self) -> None:
        self._buffer = b""
        self._left = 0  # bytes of the current chunk's data still to come
        self._crlf = False  # the CRLF after a chunk's data (or after the last chunk) is due
        self._last = False  # the zero-size chunk was seen
        self.done = False

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """(body bytes decoded from `data`, bytes left after the body's end)."""
        buffer = self._buffer + data if self._buffer else data
        out: list[bytes] = []
        while buffer and not self.done:
            if self._left:
                piece = buffer[: self._left]
                out.append(piece)
                self._left -= len(piece)
                buffer = buffer[len(piece) :]
                self._crlf = self._left == 0
            elif self._crlf:
                if len(buffer) < 2:
                    break
                buffer, self._crlf = buffer[2:], False
                self.done = self._last  # no trailers from our peers
            else:
                end = buffer.find(b"\r\n")
                if end < 0:
                    break
                size = int(buffer[:end].split(b";", 1)[0], 16)
                buffer = buffer[end + 2 :]
                self._left, self._last = size, size == 0
                self._crlf = size == 0
        self._buffer = b"" if self.done else buffer
        return b"".join(out), buffer if self.done else b""
