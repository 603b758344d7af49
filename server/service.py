"""Runs one request through the loop and reports it: metrics, in-flight count, error mapping.

The API layer calls `ChatService.run`; the loop stays free of metrics and HTTP concerns, and the
engine's and renderer's own exceptions become `VtcError`s here, in one place. Admission (429 past
the bounds) and the per-request deadline also live here, around the loop, so they cover the
streaming and the non-streaming paths alike and are released however the request ends.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

from renderer import RendererError
from server.admission import Admission
from server.deadline import within_deadline
from server.engines.base import Engine, EngineError
from server.errors import (
    DeadlineExceeded,
    EngineFailed,
    EngineUnavailable,
    InvalidRequest,
    Overloaded,
    RenderFailed,
    VtcError,
)
from server.loop.compress import PromptTooLarge
from server.loop.events import LoopEvent, LoopResult, RoundFinished
from server.loop.request import LoopRequest
from server.loop.runner import PageSinkFactory, default_page_sink, run_loop
from server.metrics import Metrics

log = logging.getLogger("vtcr1.service")


@dataclass
class _Outcome:
    status: str = "cancelled"  # until the loop's result says otherwise


class ChatService:
    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        model: str,
        *,
        admission: Admission | None = None,
        request_timeout_s: float | None = None,
        page_sink: PageSinkFactory = default_page_sink,
        on_engine_error: Callable[[EngineError], None] | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.model = model
        self.admission = admission
        self.request_timeout_s = request_timeout_s
        self.page_sink = page_sink
        self.on_engine_error = on_engine_error

    async def run(self, request: LoopRequest) -> AsyncGenerator[LoopEvent, None]:
        """The loop's events, admitted, timed out, observed and with errors mapped: one
        generator around the loop (each layer costs every token ~1 us)."""
        mode = request.options.mode
        slot = self.admission.slot() if self.admission is not None else contextlib.nullcontext()
        admitted = False
        try:
            async with slot:
                admitted = True
                async with self._accounted(mode) as outcome:
                    loop = run_loop(request, self.engine, page_sink=self.page_sink)
                    if self.request_timeout_s is not None:
                        loop = within_deadline(loop, self.request_timeout_s)
                    async with aclosing(loop) as events:
                        async for event in events:
                            if isinstance(event, RoundFinished):
                                self.metrics.observe_round(self.model, mode, event.stats)
                            elif isinstance(event, LoopResult):
                                event = await self._with_answer_tokens(event)
                                self.metrics.observe_result(self.model, event)
                                outcome.status = "ok"
                            yield event
        except Overloaded:
            if not admitted:  # refused by admission before anything ran
                self.metrics.requests.labels(self.model, mode, "rejected").inc()
            raise

    @contextlib.asynccontextmanager
    async def _accounted(self, mode: str) -> AsyncIterator[_Outcome]:
        """In flight while it runs; counted by outcome when it ends; failures mapped."""
        in_flight = self.metrics.requests_in_flight.labels(self.model)
        in_flight.inc()
        outcome = _Outcome()
        try:
            yield outcome
        except DeadlineExceeded:
            outcome.status = "timeout"
            raise
        except VtcError:
            outcome.status = "error"
            raise
        except (EngineError, PromptTooLarge, RendererError) as exc:
            outcome.status = "error"
            raise self._mapped(exc) from exc
        finally:
            in_flight.dec()
            self.metrics.requests.labels(self.model, mode, outcome.status).inc()

    async def _with_answer_tokens(self, result: LoopResult) -> LoopResult:
        """Count the answer's tokens, so usage can tell reasoning tokens from the answer's."""
        if not result.answer:
            return result
        tokens = await self.engine.tokenize(result.answer, add_special_tokens=False)
        return dataclasses.replace(result, answer_tokens=min(len(tokens), result.completion_tokens))

    def _mapped(self, exc: Exception) -> VtcError:
        """The engine's, the loop's and the renderer's failures as the API's errors."""
        if isinstance(exc, EngineError):
            if self.on_engine_error is not None:
                self.on_engine_error(exc)
            if exc.retryable:
                # Nothing reached us and every replica refused: try again soon, elsewhere.
                return EngineUnavailable(
                    f"the engine is unavailable: {exc}", headers={"Retry-After": "2"}
                )
            return EngineFailed(f"the engine failed: {exc}")
        if isinstance(exc, PromptTooLarge):
            return InvalidRequest(str(exc), param="vtc.compress_input", code="prompt_too_large")
        log.error("rendering failed", exc_info=exc)
        return RenderFailed(f"rendering the reasoning to pages failed: {exc}")
