"""The gateway in front of the replica, and the API checks a client would make first: a chat
completion, a stream, the page stream, the metrics."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from scripts.gpu_check.context import Run
from scripts.gpu_check.processes import Gateway
from scripts.gpu_check.runner import StepFailed

QUESTION = "What is 17 + 25? Think step by step."
# Short rounds: the tiny model never answers, so every request runs its rounds to the end.
VTC = {"max_rounds": 2, "round_max_tokens": 96}


def gateway(run: Run) -> dict[str, Any]:
    """`vtcr1 serve --engine openai` starts against the replica (the start-up guard passes,
    the replica's /v1/models is read) and reports ready."""
    if run.replica_url is None:
        raise StepFailed("no replica")
    args = [
        "--engine",
        "openai",
        "--backend-urls",
        run.replica_url,
        "--model",
        str(run.need_tiny()),
    ]
    gw = Gateway(args, run.log("gateway.log"))
    run.stack.callback(gw.stop)
    ready_s = gw.wait_ready(timeout_s=300)
    run.gateway_url = gw.url
    return {"ready_after_s": round(ready_s, 1)}


def _client(run: Run) -> httpx.Client:
    if run.gateway_url is None:
        raise StepFailed("no gateway")
    return httpx.Client(base_url=run.gateway_url, timeout=300)


def _body(run: Run, **extra: Any) -> dict[str, Any]:
    vtc = {**VTC, **extra.pop("vtc", {})}
    return {
        "model": run.served_name,
        "messages": [{"role": "user", "content": QUESTION}],
        "vtc": vtc,
        **extra,
    }


def api_chat(run: Run) -> dict[str, Any]:
    """A non-streamed chat completion runs the VTC loop: rounds, pages, token counts."""
    with _client(run) as client:
        start = time.monotonic()
        response = client.post("/v1/chat/completions", json=_body(run, seed=1))
        latency = time.monotonic() - start
    if response.status_code != 200:
        raise StepFailed(f"HTTP {response.status_code}: {response.text[:300]}")
    data = response.json()
    vtc, usage = data["vtc"], data["usage"]
    if vtc["rounds"] != VTC["max_rounds"] or usage["completion_tokens"] <= 0:
        raise StepFailed(f"unexpected vtc/usage: {vtc['rounds']} rounds, {usage}")
    return {
        "latency_s": round(latency, 3),
        "rounds": vtc["rounds"],
        "pages": vtc["pages"],
        "completion_tokens": usage["completion_tokens"],
    }


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any] | None]:
    """The JSON payloads of a chat stream; None for `[DONE]`."""
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line[6:]
            yield None if payload == "[DONE]" else json.loads(payload)


def _stream(run: Run, body: dict[str, Any]) -> tuple[list[dict[str, Any] | None], float | None]:
    """Every event of one stream, and when the first text arrived."""
    events: list[dict[str, Any] | None] = []
    first: float | None = None
    with _client(run) as client:
        start = time.monotonic()
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                raise StepFailed(f"HTTP {response.status_code}: {response.read()[:300]!r}")
            for event in sse_events(response):
                events.append(event)
                if first is None and event and _text_of(event):
                    first = time.monotonic() - start
    return events, first


def _text_of(event: dict[str, Any]) -> str:
    delta = (event.get("choices") or [{}])[0].get("delta") or {}
    return str(delta.get("content") or "") + str(delta.get("reasoning_content") or "")


def api_stream(run: Run) -> dict[str, Any]:
    """A stream ends with a finish reason, the whole vtc object and [DONE]."""
    body = _body(run, stream=True, stream_options={"include_usage": True}, seed=2)
    events, ttft = _stream(run, body)
    if not events or events[-1] is not None:
        raise StepFailed("the stream did not end with [DONE]")
    chunks = [e for e in events if e is not None]
    finals = [c for c in chunks if c.get("choices") and c["choices"][0].get("finish_reason")]
    if not finals or "per_round" not in (finals[-1].get("vtc") or {}):
        raise StepFailed("no final chunk with the vtc summary")
    text = "".join(_text_of(c) for c in chunks)
    return {"chunks": len(chunks), "ttft_s": ttft and round(ttft, 3), "characters": len(text)}


def api_pages(run: Run) -> dict[str, Any]:
    """`vtc.stream_pages` streams each rendered page as a PNG, and the count matches the
    summary's `pages`."""
    body = _body(run, stream=True, seed=3, vtc={"stream_pages": True})
    events, _ = _stream(run, body)
    chunks = [e for e in events if e is not None]
    pages = [c["vtc"]["page"] for c in chunks if "page" in (c.get("vtc") or {})]
    summary = next(c["vtc"] for c in reversed(chunks) if "per_round" in (c.get("vtc") or {}))
    if not pages or summary["pages"] != len(pages):
        raise StepFailed(f"{len(pages)} page chunks, summary says {summary['pages']}")
    png = base64.b64decode(pages[0]["url"].split(",", 1)[1])
    if not png.startswith(b"\x89PNG"):
        raise StepFailed("a page is not a PNG")
    return {"pages": len(pages), "first_page_px": f"{pages[0]['width']}x{pages[0]['height']}"}


def _sample_sum(text: str, name: str) -> float:
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    ]
    return sum(values)


def api_metrics(run: Run) -> dict[str, Any]:
    """/metrics counts what the checks above did (three requests, their pages)."""
    with _client(run) as client:
        text = client.get("/metrics").text
    requests = _sample_sum(text, "vtcr1_requests_total")
    pages = _sample_sum(text, "vtcr1_rendered_pages_total")
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE vtcr1_")}
    if requests < 3 or pages < 1:
        raise StepFailed(f"metrics counted {requests} requests, {pages} pages")
    return {"requests": requests, "rendered_pages": pages, "vtcr1_families": len(families)}
