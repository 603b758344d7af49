"""The small endpoints: health, readiness, version, metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from server import __version__
from server.api.state import State
from server.engines.base import EngineError
from server.errors import EngineUnavailable

router = APIRouter()


# Probes answer HEAD too (some load balancers and uptime checkers send it); one operation each
# in the OpenAPI document (a GET and HEAD route shared one operation id).
@router.head("/health", include_in_schema=False)
@router.get("/health")
async def health() -> dict[str, str]:
    """The process is up (liveness)."""
    return {"status": "ok"}


@router.head("/ready", include_in_schema=False)
@router.get("/ready")
async def ready(state: State) -> JSONResponse:
    """The engine is loaded and answers its health check, the server is not draining and the
    engine has not died (readiness)."""
    state.require_service()
    assert state.watch is not None
    try:
        await state.watch.check()
    except EngineError as exc:
        raise EngineUnavailable(f"the engine is unhealthy: {exc}") from exc
    return JSONResponse({"status": "ready", "model": state.model_name})


@router.get("/version")
async def version() -> dict[str, str]:
    return {"version": __version__}


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
