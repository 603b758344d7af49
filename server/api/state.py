"""What the app holds while it runs: settings, metrics, admission, the engine (once loaded), the
service, and the flags that fail `/ready`: draining (SIGTERM) and a dead engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated

from fastapi import Depends, Request

from server.admission import Admission
from server.api.text import text_cleaner
from server.engine_watch import EngineWatch
from server.engines.base import Engine
from server.errors import EngineUnavailable
from server.loop.sink import PageSinkFactory, default_page_sink
from server.media.sources import ImageSources
from server.metrics import Metrics
from server.service import ChatService
from server.settings import Settings


def admission_for(settings: Settings) -> Admission:
    return Admission(
        settings.max_concurrent_requests, settings.max_queued_requests, settings.queue_timeout_s
    )


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    admission: Admission
    image_sources: ImageSources
    page_sink: PageSinkFactory = default_page_sink
    # Called once when the engine is found dead (the server then stops with exit code 1).
    on_fatal: Callable[[], None] | None = None
    engine: Engine | None = None
    service: ChatService | None = None
    watch: EngineWatch | None = None
    load_error: str | None = None
    draining: bool = False
    dead: str | None = None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    started: int = field(default_factory=lambda: int(time.time()))  # the models' `created`

    @property
    def model_name(self) -> str:
        if self.settings.served_model_name:
            return self.settings.served_model_name
        if self.engine is not None:
            return self.engine.info.name
        return self.settings.model or "vtcr1-tiny"

    def attach(self, engine: Engine) -> None:
        self.engine = engine
        self.metrics.start_at_zero(self.model_name)
        self.watch = EngineWatch(
            engine, interval_s=self.settings.engine_health_interval_s, on_dead=self._engine_died
        )
        self.service = ChatService(
            engine,
            self.metrics,
            self.model_name,
            admission=self.admission,
            request_timeout_s=self.settings.request_timeout_s,
            page_sink=self.page_sink,
            on_engine_error=self.watch.report,
        )
        self.watch.start()
        self.loaded.set()

    def _engine_died(self, reason: str) -> None:
        self.dead = reason
        if self.on_fatal is not None:
            self.on_fatal()

    def count_rejected(self, mode: str) -> None:
        """A request refused before it reached the service (bad input, not ready)."""
        self.metrics.requests.labels(self.model_name, mode, "rejected").inc()

    @cached_property
    def _clean(self) -> Callable[[str], str]:
        tokens = self.engine.info.special_tokens if self.engine is not None else frozenset()
        return text_cleaner(tokens, skip_special_tokens=True)

    def cleaner(self, *, skip_special_tokens: bool) -> Callable[[str], str]:
        """What clients see of the model's text (`server/api/text.py`)."""
        return self._clean if skip_special_tokens else _raw

    def require_service(self) -> ChatService:
        if self.dead is not None:
            raise EngineUnavailable(
                f"the engine died ({self.dead}); the server is restarting", code="engine_dead"
            )
        if self.service is None:
            detail = f": {self.load_error}" if self.load_error else " (still loading)"
            raise EngineUnavailable(
                f"the engine is not ready{detail}", headers={"Retry-After": "5"}
            )
        if self.draining:
            raise EngineUnavailable("the server is shutting down", code="shutting_down")
        return self.service


def _raw(text: str) -> str:
    return text


async def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.vtc
    return state


State = Annotated[AppState, Depends(app_state)]
