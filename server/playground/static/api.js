// The public API, as any client calls it: GET v1/models and a streamed POST
// v1/chat/completions. URLs are relative to the page, so a proxy path prefix just works.
// Errors in OpenAI's shape ({"error": {"message", ...}}), before the stream as an HTTP status or
// in-band inside it, become an ApiError carrying the server's message.

import { sseEvents } from "./sse.js";

const KEY_STORAGE = "vtcr1.apiKey";

export class ApiError extends Error {
  constructor(message, status = null, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

// The API key lives in this tab's session storage only, and is sent only once entered.
export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE) || "",
  set: (key) => (key ? sessionStorage.setItem(KEY_STORAGE, key) : sessionStorage.removeItem(KEY_STORAGE)),
};

function headers(json = false) {
  const result = {};
  if (json) result["Content-Type"] = "application/json";
  const key = apiKey.get();
  if (key) result["Authorization"] = `Bearer ${key}`;
  return result;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is.
  }
  const message = body?.error?.message || `${response.status} ${response.statusText}`;
  return new ApiError(message, response.status, body);
}

export async function modelName() {
  const response = await fetch("v1/models", { headers: headers() });
  if (!response.ok) throw await errorOf(response);
  const body = await response.json();
  const first = body.data && body.data[0];
  if (!first) throw new ApiError("the server lists no model");
  return first.id;
}

// Yields the stream's chunks (parsed JSON). `signal` aborts the request: the connection closes
// and the server aborts the engine request.
export async function* chatStream(body, signal) {
  const response = await fetch("v1/chat/completions", {
    method: "POST",
    headers: headers(true),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  for await (const chunk of sseEvents(response.body)) {
    if (chunk.error) throw new ApiError(chunk.error.message || "error in the stream", null, chunk);
    yield chunk;
  }
}
