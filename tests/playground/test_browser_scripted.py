"""The playground in a real browser against a scripted engine: the SSE reader on awkwardly split
streams, and the server's error messages, as HTTP errors and in-band, shown to the user.
(The real-engine browser tests are in test_browser_engine.py.)"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from playwright.async_api import expect

from server.api.app import create_app
from server.api.routes_playground import load_playground
from server.settings import Settings
from tests.playground.conftest import OpenTab
from tests.support.live_server import serving
from tests.support.scripted import ScriptedEngine

UNFINISHED = "let me think about this problem step by step carefully " * 30

# Events as a server may legally send them: CRLF line ends, a comment, a multi-line data field,
# `data:` without a space, multi-byte characters, then [DONE] and something after it.
EVENTS = [{"n": 1, "text": "héllo → 世界 🙂"}, {"n": 2, "lines": "a\nb"}, {"n": 3}]
STREAM = (
    ": keep-alive\r\n\r\n"
    f"data: {json.dumps(EVENTS[0], ensure_ascii=False)}\r\n\r\n"
    'data: {"n": 2,\ndata: "lines": "a\\nb"}\n\n'
    f"data:{json.dumps(EVENTS[2])}\n\n"
    "data: [DONE]\n\n"
    'data: {"after": "done"}\n\n'
)

READ_IN_CHUNKS = """
async ([module, text, sizes]) => {
  const { sseEvents } = await import(module);
  const bytes = new TextEncoder().encode(text);
  const results = [];
  for (const size of sizes) {
    const body = new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
        controller.close();
      },
    });
    const events = [];
    for await (const event of sseEvents(body)) events.push(event);
    results.push(events);
  }
  return results;
}
"""


@contextlib.asynccontextmanager
async def scripted_server(outputs: list[str], **settings: Any) -> AsyncIterator[str]:
    app = create_app(Settings(**settings), engine=ScriptedEngine(outputs))
    async with serving(app) as url:
        yield url


async def test_the_sse_reader_survives_any_split_of_the_bytes(open_tab: OpenTab) -> None:
    async with scripted_server([]) as url, open_tab(url) as tab:
        module = f"./playground/{load_playground().build}/sse.js"
        sizes = [1, 2, 3, 5, 7, 64, 4096]
        results = await tab.page.evaluate(READ_IN_CHUNKS, [module, STREAM, sizes])
        assert results == [EVENTS] * len(sizes)
        tab.assert_clean()


async def test_an_http_error_shows_the_servers_message(open_tab: OpenTab) -> None:
    async with scripted_server([UNFINISHED], max_rounds_limit=2) as url, open_tab(url) as tab:
        page = tab.page
        await expect(page.locator("body")).to_have_attribute("data-state", "ready")
        await page.fill("#max-rounds", "3")
        await page.press("#question", "Control+Enter")  # the keyboard way to ask
        await expect(page.locator("body")).to_have_attribute("data-state", "error")
        message = "vtc.max_rounds is too large; this server allows at most 2"
        await expect(page.locator("#error")).to_have_text(message)
        tab.assert_clean(allowed=("status of 400",))


async def test_an_in_band_error_shows_the_servers_message(open_tab: OpenTab) -> None:
    """Round 1 streams, round 2 fails in the engine after the response has started: the error
    arrives inside the stream and the page shows exactly what the server sent."""
    body = {
        "model": "scripted",
        "messages": [{"role": "user", "content": "q"}],
        "stream": True,
        "vtc": {"max_rounds": 3, "stream_pages": True},
    }
    async with scripted_server([UNFINISHED]) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            sent = (await client.post("/v1/chat/completions", json=body)).text
        errors = [json.loads(line[6:]) for line in sent.splitlines() if '"error"' in line]
        assert len(errors) == 1, sent
    async with scripted_server([UNFINISHED]) as url, open_tab(url) as tab:
        page = tab.page
        await expect(page.locator("body")).to_have_attribute("data-state", "ready")
        await page.fill("#max-rounds", "3")
        await page.click("#ask")
        await expect(page.locator("body")).to_have_attribute("data-state", "error")
        await expect(page.locator("#error")).to_have_text(errors[0]["error"]["message"])
        # What streamed before the error stays on the page.
        first_round = page.locator("#rounds .round[data-round='1'] .reasoning")
        await expect(first_round).not_to_be_empty()
        tab.assert_clean()


async def test_a_document_goes_before_the_question_and_compression_is_asked_for(
    open_tab: OpenTab,
) -> None:
    async with scripted_server([UNFINISHED] * 4) as url, open_tab(url) as tab:
        page = tab.page
        sent: list[dict[str, Any]] = []
        page.on(
            "request",
            lambda r: sent.append(json.loads(r.post_data or "{}")) if r.method == "POST" else None,
        )
        await expect(page.locator("body")).to_have_attribute("data-state", "ready")
        await page.click("#document-box summary")
        await page.fill("#document", "The document. " * 50)
        await page.fill("#max-rounds", "1")
        await page.click("#ask")
        await expect(page.locator("body")).not_to_have_attribute("data-state", "running")
        await page.check("#compress-input")
        await page.fill("#compress-min-tokens", "64")
        await page.click("#ask")
        await expect(page.locator("body")).not_to_have_attribute("data-state", "running")
        assert len(sent) == 2
        question = await page.input_value("#question")
        for body in sent:
            assert body["messages"][0]["content"] == [
                {"type": "text", "text": "The document. " * 50},
                {"type": "text", "text": question},
            ]
        assert "compress_input" not in sent[0]["vtc"]
        assert sent[1]["vtc"]["compress_input"] == {"scope": "documents", "min_tokens": 64}
