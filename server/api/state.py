"""What the app holds while it runs: settings, metrics, the engine (once loaded), the service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from server.engines.base import Engine
from server.errors import EngineUnavailable
from server.metrics import Metrics
from server.service import ChatService
from server.settings import Settings


@dataclass
class AppState:
    settings: Settings
    metrics: Metrics
    engine: Engine | None = None
    service: ChatService | None = None
    load_error: str | None = None
    draining: bool = False
    loaded: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def model_name(self) -> str:
        if self.settings.served_model_name:
            return self.settings.served_model_name
        if self.engine is not None:
            return self.engine.info.name
        return self.settings.model or "vtcr1-tiny"

    def attach(self, engine: Engine) -> None:
        self.engine = engine
        self.service = ChatService(engine, self.metrics, self.model_name)
        self.loaded.set()

    def require_service(self) -> ChatService:
        if self.service is None:
            detail = f": {self.load_error}" if self.load_error else " (still loading)"
            raise EngineUnavailable(
                f"the engine is not ready{detail}", headers={"Retry-After": "5"}
            )
        if self.draining:
            raise EngineUnavailable("the server is shutting down", code="shutting_down")
        return self.service


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.vtc
    return state


State = Annotated[AppState, Depends(app_state)]
