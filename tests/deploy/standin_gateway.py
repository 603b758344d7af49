"""STAND-IN for the VTC-R1 gateway's /metrics, for the live dashboard test only.

This is NOT the product. It exposes the gateway's metric names (and the vLLM ones the dashboard
reads) with prometheus_client and moves them on each fake `/v1/chat/completions`, so the
dashboard -> PromQL -> real Prometheus path can be tested before `server.api.app.create_app`
exists. `test_dashboard_live.py::test_every_panel_has_data_from_the_real_gateway` runs the same
check against the real gateway once it exists; then this module may go.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

MODEL = "vtcr1-tiny"
STATUSES = ("ok", "ok", "ok", "ok", "error", "cancelled", "rejected")


class StandinMetrics:
    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        gw = ("model", "mode")
        self.requests = Counter(
            "vtcr1_requests", "Finished requests.", ("model", "mode", "status"), registry=r
        )
        self.in_flight = Gauge("vtcr1_requests_in_flight", "In flight.", ("model",), registry=r)
        self.latency = Histogram("vtcr1_request_latency_seconds", "E2E.", gw, registry=r)
        self.ttft = Histogram("vtcr1_time_to_first_token_seconds", "TTFT.", gw, registry=r)
        self.round_latency = Histogram("vtcr1_round_latency_seconds", "Round.", gw, registry=r)
        self.render = Histogram("vtcr1_render_seconds", "Render.", gw, registry=r)
        self.gap = Histogram("vtcr1_inter_round_gap_seconds", "Gap.", gw, registry=r)
        self.rounds = Histogram(
            "vtcr1_rounds_per_request", "Rounds.", gw, buckets=(1, 2, 3, 4, 6, 8, 16), registry=r
        )
        self.ratio = Histogram(
            "vtcr1_compression_ratio", "Ratio.", gw, buckets=(1, 2, 3, 4, 6, 8, 12), registry=r
        )
        self.pages = Counter("vtcr1_rendered_pages", "Pages.", gw, registry=r)
        self.reasoning = Counter("vtcr1_reasoning_tokens", "Reasoning.", gw, registry=r)
        self.vision = Counter("vtcr1_vision_tokens", "Vision.", gw, registry=r)
        self.prompt = Counter("vtcr1_prompt_tokens", "Prompt.", gw, registry=r)
        self.generated = Counter("vtcr1_generated_tokens", "Generated.", gw, registry=r)
        self.input_ratio = Histogram(
            "vtcr1_input_compression_ratio", "Input ratio.", ("model",), registry=r
        )
        self.input_pages = Counter("vtcr1_input_pages", "Input pages.", ("model",), registry=r)
        self.input_text = Counter("vtcr1_input_text_tokens", "Input text.", ("model",), registry=r)
        self.input_vision = Counter(
            "vtcr1_input_vision_tokens", "Input vision.", ("model",), registry=r
        )
        vl = ("model_name", "engine")
        self.running = Gauge("vllm:num_requests_running", "Running.", vl, registry=r)
        self.waiting = Gauge("vllm:num_requests_waiting", "Waiting.", vl, registry=r)
        self.kv = Gauge("vllm:kv_cache_usage_perc", "KV.", vl, registry=r)
        self.pc_queries = Counter("vllm:prefix_cache_queries", "Queries.", vl, registry=r)
        self.pc_hits = Counter("vllm:prefix_cache_hits", "Hits.", vl, registry=r)
        self.rng = random.Random(1)
        self.lock = threading.Lock()
        self.count = 0

    def fake_request(self) -> str:
        """Records what one multi-round VTC request would; returns its status."""
        with self.lock:
            rng, labels = self.rng, {"model": MODEL, "mode": "vtc"}
            status = STATUSES[self.count % len(STATUSES)]
            self.count += 1
            rounds = rng.randint(1, 4)
            self.requests.labels(status=status, **labels).inc()
            self.latency.labels(**labels).observe(rng.uniform(0.5, 8))
            self.ttft.labels(**labels).observe(rng.uniform(0.02, 0.4))
            self.rounds.labels(**labels).observe(rounds)
            for _ in range(rounds):
                self.round_latency.labels(**labels).observe(rng.uniform(0.2, 2))
            for _ in range(rounds - 1):
                pages = rng.randint(1, 3)
                self.render.labels(**labels).observe(rng.uniform(0.005, 0.05))
                self.gap.labels(**labels).observe(rng.uniform(0.01, 0.1))
                self.pages.labels(**labels).inc(pages)
                self.vision.labels(**labels).inc(630 * pages)
                self.reasoning.labels(**labels).inc(2000 * pages)
            self.ratio.labels(**labels).observe(rng.uniform(2, 4))
            self.prompt.labels(**labels).inc(300 * rounds)
            self.generated.labels(**labels).inc(500 * rounds)
            engine = {"model_name": MODEL, "engine": "0"}
            self.running.labels(**engine).set(rng.randint(0, 4))
            self.waiting.labels(**engine).set(rng.randint(0, 2))
            self.kv.labels(**engine).set(rng.uniform(0.05, 0.6))
            self.pc_queries.labels(**engine).inc(300 * rounds)
            self.pc_hits.labels(**engine).inc(200 * (rounds - 1))
            self.in_flight.labels(model=MODEL).set(rng.randint(0, 3))
            if self.count % 3 == 0:  # a request with a long document (vtc.compress_input)
                pages = rng.randint(2, 8)
                self.input_pages.labels(model=MODEL).inc(pages)
                self.input_text.labels(model=MODEL).inc(2300 * pages)
                self.input_vision.labels(model=MODEL).inc(630 * pages)
                self.input_ratio.labels(model=MODEL).observe(2300 / 630)
            return status


def create_standin_app(metrics: StandinMetrics) -> FastAPI:
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/v1/chat/completions")
    def chat() -> dict[str, str]:
        return {"status": metrics.fake_request()}

    return app


@contextmanager
def serve_in_thread(app: FastAPI, *, start_timeout: float = 20) -> Iterator[str]:
    """uvicorn on a free loopback port in a daemon thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("stand-in server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
