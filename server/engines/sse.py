"""Splits a server-sent-event byte stream into the payloads of its `data:` fields.

It works on the raw bytes of each socket read: a read may hold part of an event or several
events, and the remote engine handles all the events of one read at once (so tokens that
arrived together become one delta, one loop step and one chunk to the client). Only what an
OpenAI-compatible server sends matters here: `data:` lines and events ended by a blank line;
comments, `event:`/`id:` fields and empty events are skipped.
"""

from __future__ import annotations

# vLLM's chunks are a few hundred bytes; an "event" this large means the peer does not speak SSE.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class SseProtocolError(ValueError):
    """The byte stream is not server-sent events."""


class SseDecoder:
    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._buffer = b""
        self._max = max_event_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """The payloads of the events completed by `data`, in order."""
        buffer = self._buffer + data if self._buffer else data
        if b"\r" in buffer:
            # CRLF line ends; a lone CR at the end may be the first half of one, so it waits.
            buffer = buffer.replace(b"\r\n", b"\n")
        *events, rest = buffer.split(b"\n\n")
        if len(rest) > self._max:
            raise SseProtocolError(f"an event longer than {self._max} bytes")
        self._buffer = rest
        payloads: list[bytes] = []
        for event in events:
            if event.startswith(b"data: ") and b"\n" not in event:
                payloads.append(event[6:])  # the one shape vLLM sends
            elif event:
                payload = _data_field(event)
                if payload is not None:
                    payloads.append(payload)
        return payloads

    @property
    def pending(self) -> bool:
        """Whether bytes of an unfinished event are buffered."""
        return bool(self._buffer.strip())


def _data_field(event: bytes) -> bytes | None:
    lines = [line[5:] for line in event.split(b"\n") if line.startswith(b"data:")]
    if not lines:
        return None
    return b"\n".join(line[1:] if line.startswith(b" ") else line for line in lines)
