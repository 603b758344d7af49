"""All Prometheus metrics of the gateway, in one place, under fixed `vtcr1_` names.

Dashboards and alerts depend on these names and labels; labels are only `model`, `mode` and
`status`, whose values are bounded and known up front, so every series is created at 0 as soon
as the model's name is known (`start_at_zero`): dashboards, alerts and `rate()` see an idle server
as idle, not as absent. Each app owns its registry (no import-time state), and `/metrics` also
exposes the process-wide default registry, where the in-process vLLM engine publishes its own
`vllm:` metrics.

With `vtcr1 serve --workers N` every worker runs with prometheus-client's multiprocess mode
(`PROMETHEUS_MULTIPROC_DIR`, set by the supervisor before the worker imports prometheus-client):
each worker writes its values to its own files there, and `/metrics` of any worker reads them
all: counters and histograms summed over the workers (a dead worker's counts stay in the totals:
they are cumulative), the in-flight gauge summed over the live ones (`livesum`: the supervisor
drops an exited worker's share with `mark_process_dead`). vLLM's `vllm:` metrics and the
`process_*` ones are left out there: the in-process engine never runs with several workers, and
one worker's process numbers are not the server's.
"""

from __future__ import annotations

from typing import get_args

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

from server.loop.events import LoopResult, Mode, RoundStats

# LLM requests run from well under a second (one short round) to minutes (8 rounds x 8K tokens).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 240, 480, 900)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Rendering a round and the gap between rounds are milliseconds when things go well.
FAST_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
ROUNDS_BUCKETS = (1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 32, 64)
RATIO_BUCKETS = (0.25, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 8, 10)

REQUEST_STATUSES = ("ok", "error", "cancelled", "rejected", "timeout")
MODES: tuple[str, ...] = get_args(Mode)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._requests()
        self._rounds()
        self._tokens()
        self._input()

    def _histogram(
        self, name: str, help_text: str, labels: list[str], buckets: tuple[float, ...]
    ) -> Histogram:
        return Histogram(name, help_text, labels, buckets=buckets, registry=self.registry)

    def _counter(self, name: str, help_text: str) -> Counter:
        return Counter(name, help_text, ["model"], registry=self.registry)

    def _requests(self) -> None:
        """Per request: outcome, latency, time to first token, rounds, in flight."""
        self.request_latency = self._histogram(
            "vtcr1_request_latency_seconds",
            "End-to-end latency of chat completion requests (all rounds).",
            ["model", "mode"],
            LATENCY_BUCKETS,
        )
        self.time_to_first_token = self._histogram(
            "vtcr1_time_to_first_token_seconds",
            "Request start to the first generated token.",
            ["model", "mode"],
            TTFT_BUCKETS,
        )
        self.rounds_per_request = self._histogram(
            "vtcr1_rounds_per_request", "Rounds a request took.", ["model", "mode"], ROUNDS_BUCKETS
        )
        self.requests = Counter(
            "vtcr1_requests",
            "Chat completion requests by outcome.",
            ["model", "mode", "status"],
            registry=self.registry,
        )
        self.requests_in_flight = Gauge(
            "vtcr1_requests_in_flight",
            "Requests being served now.",
            ["model"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def _rounds(self) -> None:
        """Per round: latency, rendering, the gap between rounds, pages, compression."""
        self.round_latency = self._histogram(
            "vtcr1_round_latency_seconds",
            "Latency of one round (submitted to last token).",
            ["model", "mode"],
            LATENCY_BUCKETS,
        )
        self.render_seconds = self._histogram(
            "vtcr1_render_seconds",
            "Time spent rendering one round's output to pages.",
            ["model"],
            FAST_BUCKETS,
        )
        self.inter_round_gap = self._histogram(
            "vtcr1_inter_round_gap_seconds",
            "Last token of round k to round k+1 submitted to the engine.",
            ["model"],
            FAST_BUCKETS,
        )
        self.compression_ratio = self._histogram(
            "vtcr1_compression_ratio",
            "Rendered reasoning tokens / their vision tokens, per request that rendered pages.",
            ["model"],
            RATIO_BUCKETS,
        )
        self.rendered_pages = self._counter(
            "vtcr1_rendered_pages", "Pages rendered as optical memory."
        )

    def _tokens(self) -> None:
        self.reasoning_tokens = self._counter(
            "vtcr1_reasoning_tokens", "Generated tokens that were rendered to pages."
        )
        self.vision_tokens = self._counter(
            "vtcr1_vision_tokens", "Vision tokens of rendered pages."
        )
        self.prompt_tokens = self._counter(
            "vtcr1_prompt_tokens", "Prompt tokens, summed over rounds."
        )
        self.generated_tokens = self._counter(
            "vtcr1_generated_tokens", "Generated tokens, summed over rounds."
        )

    def _input(self) -> None:
        """Optical compression of long inputs (`vtc.compress_input`)."""
        self.input_compression_ratio = self._histogram(
            "vtcr1_input_compression_ratio",
            "Text tokens of the rendered input / their vision tokens, per request that "
            "compressed its input.",
            ["model"],
            RATIO_BUCKETS,
        )
        self.input_pages = self._counter("vtcr1_input_pages", "Pages rendered from inputs.")
        self.input_text_tokens = self._counter(
            "vtcr1_input_text_tokens", "Tokens the rendered input text would have cost."
        )
        self.input_vision_tokens = self._counter(
            "vtcr1_input_vision_tokens", "Vision tokens of the pages rendered from inputs."
        )

    def start_at_zero(self, model: str) -> None:
        """Create every series of `model` (all modes, all statuses) at 0. Idempotent."""
        by_mode = (
            self.request_latency,
            self.time_to_first_token,
            self.round_latency,
            self.rounds_per_request,
        )
        for mode in MODES:
            for status in REQUEST_STATUSES:
                self.requests.labels(model, mode, status)
            for histogram in by_mode:
                histogram.labels(model, mode)
        by_model = (
            self.render_seconds,
            self.compression_ratio,
            self.inter_round_gap,
            self.rendered_pages,
            self.reasoning_tokens,
            self.vision_tokens,
            self.prompt_tokens,
            self.generated_tokens,
            self.requests_in_flight,
            self.input_compression_ratio,
            self.input_pages,
            self.input_text_tokens,
            self.input_vision_tokens,
        )
        for metric in by_model:
            metric.labels(model)

    def observe_round(self, model: str, mode: str, stats: RoundStats) -> None:
        self.round_latency.labels(model, mode).observe(stats.latency_s)
        self.prompt_tokens.labels(model).inc(stats.prompt_tokens)
        self.generated_tokens.labels(model).inc(stats.generated_tokens)
        if stats.gap_s is not None:
            self.inter_round_gap.labels(model).observe(stats.gap_s)
        if stats.pages:
            self.render_seconds.labels(model).observe(stats.render_s)
            self.rendered_pages.labels(model).inc(stats.pages)
            self.reasoning_tokens.labels(model).inc(stats.rendered_tokens)
            self.vision_tokens.labels(model).inc(stats.vision_tokens)

    def observe_result(self, model: str, result: LoopResult) -> None:
        self.request_latency.labels(model, result.mode).observe(result.latency_s)
        self.rounds_per_request.labels(model, result.mode).observe(len(result.rounds))
        if result.ttft_s is not None:
            self.time_to_first_token.labels(model, result.mode).observe(result.ttft_s)
        if result.compression_ratio is not None:
            self.compression_ratio.labels(model).observe(result.compression_ratio)
        if result.input is not None and result.input.pages:
            self.input_pages.labels(model).inc(result.input.pages)
            self.input_text_tokens.labels(model).inc(result.input.text_tokens)
            self.input_vision_tokens.labels(model).inc(result.input.vision_tokens)
            ratio = result.input.compression_ratio
            if ratio is not None:
                self.input_compression_ratio.labels(model).observe(ratio)

    def exposition(self, *, include_engine: bool = True) -> bytes:
        if multiprocess_mode():
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        text = generate_latest(self.registry)
        if include_engine:
            text += generate_latest(REGISTRY)
        return text


def multiprocess_mode() -> bool:
    """True when this process's metrics live in the multiprocess directory: decided by
    prometheus-client once, when it was imported, from `PROMETHEUS_MULTIPROC_DIR`."""
    return values.ValueClass is not values.MutexValue
