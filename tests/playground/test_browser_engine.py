"""The playground in a real browser (Debian's Chromium) against a real server on the session's
in-process vLLM engine (tiny model): live reasoning, page thumbnails as they stream, the
per-round table, stop, the baseline comparison, API keys, and a compressed document's input
pages.

Every wait is Playwright waiting for a condition on the page (or `wait_until` polling the engine
with a deadline); none is a sleep.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, Request, expect

from server.api.app import create_app
from server.engines.vllm_local import VllmLocalEngine
from server.settings import Settings
from server.tiny_model.corpus import build_corpus
from tests.conftest import SERVED_NAME, TEST_MAX_IMAGES
from tests.playground.conftest import OpenTab
from tests.support.live_server import serving

pytestmark = pytest.mark.engine
KEY = "sk-playground-right-key"

# Installed before a question is asked: notes what was on the page at the first moment
# reasoning text showed, and at the first moment a page thumbnail showed.
WATCH_LIVE = """
() => {
  window.__live = {};
  const rounds = document.getElementById("rounds");
  const snapshot = () => ({
    running: document.body.dataset.state === "running",
    rows: document.querySelectorAll("#round-table tbody tr").length,
    summary: document.querySelectorAll("#summary div").length,
  });
  const observer = new MutationObserver(() => {
    const text = [...rounds.querySelectorAll(".reasoning")].map((e) => e.textContent).join("");
    if (text && !window.__live.reasoning) window.__live.reasoning = snapshot();
    if (rounds.querySelector(".thumb") && !window.__live.thumb) window.__live.thumb = snapshot();
  });
  observer.observe(rounds, { childList: true, subtree: true, characterData: true });
}
"""


COUNT_TEXT_NODES = """
() => [...document.querySelectorAll("#rounds .reasoning")]
  .map((box) => [...box.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE).length)
  .reduce((a, b) => a + b, 0)
"""


@pytest.fixture
async def gateway(vllm_engine: VllmLocalEngine) -> AsyncIterator[str]:
    # The gateway knows the engine's image limit (input pages count against it).
    settings = Settings(served_model_name=SERVED_NAME, max_images_per_prompt=TEST_MAX_IMAGES)
    app = create_app(settings, engine=vllm_engine)
    async with serving(app) as url:
        yield url


async def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll an engine-side condition with a deadline (the engine has no event to wait on)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def sse_chunks(text: str) -> list[dict[str, Any]]:
    payloads = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    return [json.loads(p) for p in payloads if p != "[DONE]"]


async def ready(page: Page) -> None:
    await expect(page.locator("body")).to_have_attribute("data-state", "ready")


async def set_knobs(page: Page, rounds: int, tokens: int) -> None:
    await page.fill("#max-rounds", str(rounds))
    await page.fill("#round-tokens", str(tokens))
    await page.fill("#temperature", "0")


async def test_a_question_streams_reasoning_pages_and_rounds(
    gateway: str, open_tab: OpenTab, tmp_path: Path
) -> None:
    async with open_tab(gateway) as tab:
        page = tab.page
        await ready(page)
        await expect(page.locator("#model")).to_have_text(SERVED_NAME)
        await set_knobs(page, rounds=3, tokens=200)
        await page.evaluate(WATCH_LIVE)
        async with page.expect_response(lambda r: r.url.endswith("/chat/completions")) as info:
            await page.click("#ask")
        await expect(page.locator("body")).to_have_attribute("data-state", "done")
        chunks = sse_chunks(await (await info.value).text())

        # Reasoning was on the page while the request ran (before its summary); the first page
        # while it ran too. (Text is written once per animation frame, so on a fast machine
        # round 1 may have ended by then: how many table rows there were is not the point.)
        live = await page.evaluate("() => window.__live")
        assert live["reasoning"]["running"] and live["reasoning"]["summary"] == 0
        assert live["reasoning"]["rows"] < 3
        assert live["thumb"]["running"] and live["thumb"]["summary"] == 0

        final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
        vtc = final["vtc"]
        pages = [c["vtc"]["page"] for c in chunks if "page" in c.get("vtc", {})]
        assert vtc["rounds"] == 3 and vtc["pages"] >= 1
        assert len(pages) == vtc["pages"]
        thumbs = page.locator("#rounds .thumb[data-kind='reasoning']")
        await expect(thumbs).to_have_count(vtc["pages"])
        for entry in vtc["per_round"]:
            in_round = page.locator(f"#rounds .round[data-round='{entry['round']}'] .thumb")
            await expect(in_round).to_have_count(entry["pages"])

        # Text reaches the page in one write per frame, not one per delta (a write per delta
        # made the page fall 10-17 s behind a 20 s stream: docs/playground.md).
        deltas = sum(
            1 for c in chunks if c["choices"] and c["choices"][0]["delta"].get("reasoning")
        )
        nodes = await page.evaluate(COUNT_TEXT_NODES)
        assert 0 < nodes < deltas

        rows = page.locator("#round-table tbody tr")
        await expect(rows).to_have_count(vtc["rounds"])
        for i, entry in enumerate(vtc["per_round"]):
            cells = rows.nth(i).locator("td")
            await expect(cells.nth(0)).to_have_text(str(entry["round"]))
            await expect(cells.nth(1)).to_have_text(f"{entry['prompt_tokens']:,}")
            await expect(cells.nth(5)).to_have_text(f"{entry['vision_tokens']:,}")
        ratio = page.locator("#summary [data-key='compression ratio'] dd")
        await expect(ratio).to_have_text(f"{vtc['compression_ratio']:.2f}×")

        await thumbs.first.click()
        viewer = page.locator("#viewer")
        await expect(viewer).to_be_visible()
        await expect(page.locator("#viewer-img")).to_have_attribute("src", pages[0]["url"])
        await tab.screenshot(tmp_path, "playground-page-viewer.png", full_page=False)
        await page.click("#viewer-close")
        await expect(viewer).to_be_hidden()
        await tab.screenshot(tmp_path, "playground-question.png")
        tab.assert_clean()


async def test_stop_aborts_the_engine_request(
    gateway: str, open_tab: OpenTab, vllm_engine: VllmLocalEngine
) -> None:
    async with open_tab(gateway) as tab:
        page = tab.page
        await ready(page)
        # A budget far beyond what can finish before the click.
        await set_knobs(page, rounds=8, tokens=1500)
        await page.click("#ask")
        await expect(page.locator("#rounds .reasoning").first).not_to_be_empty()
        await wait_until(lambda: vllm_engine.num_unfinished_requests() > 0)
        await page.click("#stop")
        await expect(page.locator("body")).to_have_attribute("data-state", "stopped")
        await wait_until(lambda: vllm_engine.num_unfinished_requests() == 0)
        # It ended by the stop, not by running out: no final chunk ever arrived.
        await expect(page.locator("#summary div")).to_have_count(0)
        await expect(page.locator("#error")).to_be_hidden()
        await expect(page.locator("#ask")).to_be_enabled()
        tab.assert_clean()


async def test_the_baseline_comparison_shows_both_runs(
    gateway: str, open_tab: OpenTab, tmp_path: Path
) -> None:
    async with open_tab(gateway) as tab:
        page = tab.page
        sent: list[dict[str, Any]] = []

        def on_request(request: Request) -> None:
            if request.url.endswith("/chat/completions"):
                sent.append(json.loads(request.post_data or "{}"))

        page.on("request", on_request)
        await ready(page)
        await set_knobs(page, rounds=3, tokens=150)
        await page.click("#compare")
        await expect(page.locator("#status")).to_have_text(re.compile(r"^compared"))

        assert [b["vtc"]["mode"] for b in sent] == ["vtc", "baseline"]
        assert sent[1]["max_tokens"] == 3 * 150, "the baseline gets the vtc run's budget"
        assert sent[0]["messages"] == sent[1]["messages"]
        table = page.locator("#compare-table tbody")
        for key in ("latency", "ttft", "rounds", "prompt", "generated", "pages", "vision"):
            for run in ("vtc", "baseline"):
                cell = table.locator(f"tr[data-key='{key}'] td[data-run='{run}']")
                await expect(cell).to_have_text(re.compile(r"^[\d,.]+( ms| s)?$"))
        rounds = table.locator("tr[data-key='rounds']")
        await expect(rounds.locator("td[data-run='vtc']")).to_have_text("3")
        await expect(rounds.locator("td[data-run='baseline']")).to_have_text("1")
        pages = table.locator("tr[data-key='pages'] td[data-run='baseline']")
        await expect(pages).to_have_text("0")
        await expect(page.locator("#baseline-text")).not_to_be_empty()
        await tab.screenshot(tmp_path, "playground.png")
        tab.assert_clean()


async def test_with_keys_a_wrong_key_shows_the_servers_message(
    vllm_engine: VllmLocalEngine, open_tab: OpenTab
) -> None:
    app = create_app(Settings(served_model_name=SERVED_NAME, api_keys=[KEY]), engine=vllm_engine)
    async with serving(app) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            missing = (await client.get("/v1/models")).json()["error"]["message"]
            wrong = await client.get("/v1/models", headers={"Authorization": "Bearer sk-wrong"})
            wrong_message = wrong.json()["error"]["message"]
        async with open_tab(url) as tab:
            page = tab.page
            # The page loads without a key; the API's 401 brings up the key field.
            await expect(page.locator("#key-form")).to_be_visible()
            await expect(page.locator("#key-message")).to_have_text(missing)
            await page.fill("#api-key", "sk-wrong")
            await page.click("#key-save")
            await expect(page.locator("#error")).to_have_text(wrong_message)
            await expect(page.locator("#ask")).to_be_disabled()

            await page.fill("#api-key", KEY)
            await page.click("#key-save")
            await ready(page)
            await expect(page.locator("#model")).to_have_text(SERVED_NAME)
            await expect(page.locator("#error")).to_be_hidden()
            stored = await page.evaluate("() => sessionStorage.getItem('vtcr1.apiKey')")
            assert stored == KEY
            # The chat request carries the key too.
            await set_knobs(page, rounds=1, tokens=8)
            await page.click("#ask")
            await expect(page.locator("body")).to_have_attribute("data-state", "done")
            tab.assert_clean(allowed=("status of 401",))


def document(chars: int) -> str:
    """Prose and maths in the tiny tokenizer's own vocabulary, `chars` long."""
    text = "\n\n".join(build_corpus(paragraphs=40))
    while len(text) < chars:
        text += "\n\n" + text
    return text[:chars]


async def test_a_compressed_document_shows_its_input_pages(
    gateway: str, open_tab: OpenTab, tmp_path: Path
) -> None:
    async with open_tab(gateway) as tab:
        page = tab.page
        await ready(page)
        await page.click("#document-box summary")
        await page.fill("#document", document(2500))
        await page.check("#compress-input")
        await page.fill("#compress-min-tokens", "64")
        await set_knobs(page, rounds=2, tokens=64)
        async with page.expect_response(lambda r: r.url.endswith("/chat/completions")) as info:
            await page.click("#ask")
        await expect(page.locator("body")).to_have_attribute("data-state", "done")
        chunks = sse_chunks(await (await info.value).text())
        final = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
        vtc = final["vtc"]
        pages = [c["vtc"]["page"] for c in chunks if "page" in c.get("vtc", {})]
        inputs = [p for p in pages if p["kind"] == "input"]
        assert vtc["input"]["pages"] == len(inputs) >= 1
        assert all(p["round"] == 0 for p in inputs)
        # Input pages come first, in their own section labelled as input, before round 1.
        sections = page.locator("#rounds > .round")
        await expect(sections.first).to_have_attribute("data-round", "0")
        await expect(sections.first.locator("h2")).to_contain_text("Input pages")
        await expect(sections.first.locator(".thumb[data-kind='input']")).to_have_count(len(inputs))
        reasoning = page.locator("#rounds .thumb[data-kind='reasoning']")
        await expect(reasoning).to_have_count(vtc["pages"])
        input_pages = page.locator("#summary [data-key='input pages'] dd")
        await expect(input_pages).to_have_text(str(len(inputs)))
        await tab.screenshot(tmp_path, "playground-input-pages.png")
        tab.assert_clean()
