"""THE KEY TEST: every dashboard panel's PromQL returns data from a real Prometheus.

A real Prometheus (Debian `prometheus`) on loopback scrapes a gateway every second while traffic
flows; then each panel query (Grafana variables substituted as in `promql.GRAFANA_VARIABLES`) is
run through Prometheus' HTTP API until it returns at least one finite sample, with a deadline.

Two targets:
- the STAND-IN (tests/deploy/standin_gateway.py): same metric names, fake values; no engine.
- the REAL gateway (`server.api.app.create_app`) on the session's in-process vLLM engine with the
  tiny model (tests/conftest.py `vllm_engine`), served by `tests.support.live_server.serving`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deploy.prometheus_server import Prometheus, prometheus
from tests.deploy.promql import load_dashboard, panel_queries, substitute
from tests.deploy.standin_gateway import StandinMetrics, create_standin_app, serve_in_thread


def wait_until_scraped(prom: Prometheus, deadline_s: float = 20) -> None:
    deadline = time.monotonic() + deadline_s
    while prom.target_health() != ["up"]:
        assert time.monotonic() < deadline, f"target not up: {prom.target_health()}"
        time.sleep(0.2)


@contextlib.contextmanager
def background_traffic(send_one: Callable[[int], None], *, max_requests: int) -> Iterator[None]:
    """Sends requests one after another in a thread until stopped or `max_requests` are sent."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        for i in range(max_requests):
            if stop.is_set():
                return
            try:
                send_one(i)
            except BaseException as exc:  # reported by the test, not lost in the thread
                errors.append(exc)
                return

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=120)
    assert not errors, f"traffic failed: {errors[0]!r}"


def assert_every_panel_has_data(prom: Prometheus, deadline_s: float) -> None:
    queries = panel_queries(load_dashboard())
    pending = {q.name: substitute(q.expr) for q in queries}
    assert len(pending) >= 16, "dashboard lost panels"
    deadline = time.monotonic() + deadline_s
    while pending and time.monotonic() < deadline:
        for name, expr in list(pending.items()):
            if prom.finite_values(expr):
                del pending[name]
        if pending:
            time.sleep(0.25)  # poll interval; the loop is bounded by the deadline
    details = {name: prom.query(expr) for name, expr in pending.items()}
    assert not pending, f"panels without data after {deadline_s}s: {details}"


def test_every_panel_has_data_from_the_standin(tmp_path: Path) -> None:
    metrics = StandinMetrics()
    with (
        serve_in_thread(create_standin_app(metrics)) as base_url,
        prometheus(base_url, tmp_path / "prom") as prom,
    ):
        wait_until_scraped(prom)

        def send_one(i: int) -> None:
            httpx.post(f"{base_url}/v1/chat/completions", json={}, timeout=5)
            time.sleep(0.05)  # pacing of the traffic generator, not synchronisation

        with background_traffic(send_one, max_requests=2000):
            assert_every_panel_has_data(prom, deadline_s=45)
            # The check can fail: a query on a name nobody exports has no data ...
            assert prom.query("sum(rate(vtcr1_no_such_metric_total[30s]))") == []
            # ... and the values are the stand-in's: every status it produced is there.
            first = panel_queries(load_dashboard())[0]
            assert first.panel == "Request rate by status"
            statuses = {s["metric"]["status"] for s in prom.query(substitute(first.expr))}
            assert statuses == {"ok", "error", "cancelled", "rejected"}


@pytest.mark.engine
@pytest.mark.timeout(300)
async def test_every_panel_has_data_from_the_real_gateway(
    vllm_engine: Any, engine_settings: Any, tmp_path: Path
) -> None:
    """The real gateway (`create_app`) on the session's in-process vLLM engine (tiny model):
    its /metrics carries the vtcr1_* metrics and vLLM's own vllm:* ones."""
    from server.api.app import create_app
    from tests.support.live_server import serving

    settings = engine_settings.model_copy(update={"max_rounds": 3, "round_max_tokens": 32})
    app = create_app(settings, engine=vllm_engine)
    async with serving(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        ready = await client.get("/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        model = (await client.get("/v1/models", timeout=10)).json()["data"][0]["id"]
        questions = itertools.cycle(["What is 2 + 3?", "Name three prime numbers.", "Why?"])
        document = "The committee met on Tuesday to review the budget and the plan. " * 60
        stop = asyncio.Event()

        async def send_one(i: int) -> None:
            body: dict[str, Any] = {
                "model": model,
                "messages": [{"role": "user", "content": next(questions)}],
                "vtc": {"max_rounds": 3, "round_max_tokens": 32},
                "seed": i,
            }
            if i % 3 == 0:  # a long document read as pages (the input-compression panels)
                question = body["messages"][0]["content"]
                body["messages"][0]["content"] = [
                    {"type": "text", "text": document},
                    {"type": "text", "text": question},
                ]
                body["vtc"]["compress_input"] = {"min_tokens": 64}
            if i % 2:
                body["stream"] = True
                body["stream_options"] = {"include_usage": True}
                async with client.stream(
                    "POST", "/v1/chat/completions", json=body, timeout=120
                ) as response:
                    assert response.status_code == 200, await response.aread()
                    async for _ in response.aiter_lines():
                        pass
            else:
                response = await client.post("/v1/chat/completions", json=body, timeout=120)
                assert response.status_code == 200, response.text

        async def traffic(max_requests: int) -> int:
            sent = 0
            while sent < max_requests and not stop.is_set():
                await send_one(sent)
                sent += 1
            return sent

        with prometheus(base_url, tmp_path / "prom") as prom:
            # Prometheus' polls block: run them in a thread, the server shares this loop.
            await asyncio.to_thread(wait_until_scraped, prom)
            sender = asyncio.create_task(traffic(max_requests=300))
            try:
                await asyncio.to_thread(assert_every_panel_has_data, prom, 120)
            finally:
                stop.set()
                sent = await asyncio.wait_for(sender, timeout=150)
            assert sent > 0
