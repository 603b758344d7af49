"""Runs one request through the loop and reports it: metrics, in-flight count, error mapping.

The API layer calls `ChatService.run`; the loop stays free of metrics and HTTP concerns, and the
engine's and renderer's own exceptions become `VtcError`s here, in one place.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing

from renderer import RendererError
from server.engines.base import Engine, EngineError
from server.errors import EngineFailed, RenderFailed, VtcError
from server.loop.events import LoopEvent, LoopResult, RoundFinished
from server.loop.request import LoopRequest
from server.loop.runner import run_loop
from server.metrics import Metrics

log = logging.getLogger("vtcr1.service")


class ChatService:
    def __init__(self, engine: Engine, metrics: Metrics, model: str) -> None:
        self.engine = engine
        self.metrics = metrics
        self.model = model

    async def run(self, request: LoopRequest) -> AsyncGenerator[LoopEvent, None]:
        mode = request.options.mode
        in_flight = self.metrics.requests_in_flight.labels(self.model)
        in_flight.inc()
        status = "cancelled"
        try:
            async with aclosing(run_loop(request, self.engine)) as events:
                async for event in events:
                    if isinstance(event, RoundFinished):
                        self.metrics.observe_round(self.model, mode, event.stats)
                    elif isinstance(event, LoopResult):
                        self.metrics.observe_result(self.model, event)
                        status = "ok"
                    yield event
        except VtcError:
            status = "error"
            raise
        except EngineError as exc:
            status = "error"
            raise EngineFailed(f"the engine failed: {exc}") from exc
        except RendererError as exc:
            status = "error"
            log.exception("rendering failed")
            raise RenderFailed(f"rendering the reasoning to pages failed: {exc}") from exc
        finally:
            in_flight.dec()
            self.metrics.requests.labels(self.model, mode, status).inc()
