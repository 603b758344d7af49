// Server-sent events from a fetch() response body. EventSource cannot POST, so the stream of
// `POST /v1/chat/completions` is read with a ReadableStream reader and parsed here.
//
// Network chunks split anywhere (mid-line, mid-UTF-8 character); the decoder runs in stream
// mode and only whole events (ended by a blank line) are parsed. Yields each `data:` payload
// parsed as JSON; stops at `[DONE]`.

export async function* sseEvents(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      buffer = buffer.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = dataOf(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (data === null) continue;
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
      if (done) {
        const data = dataOf(buffer);
        if (data !== null && data !== "[DONE]") yield JSON.parse(data);
        return;
      }
    }
  } finally {
    // Also runs when the consumer stops early: releases (and with an abort, closes) the body.
    reader.releaseLock();
  }
}

// The joined `data:` lines of one event, or null if it has none (comments, `event:` only).
function dataOf(event) {
  const lines = event.split("\n").filter((line) => line.startsWith("data:"));
  if (lines.length === 0) return null;
  return lines.map((line) => line.slice(line.startsWith("data: ") ? 6 : 5)).join("\n");
}
