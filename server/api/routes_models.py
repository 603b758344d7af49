"""`GET /v1/models` and `GET /v1/models/{id}`: the served model, with vLLM's `root` (where the
model and its tokenizer live) and `max_model_len`, so benchmark tools find the tokenizer."""

from __future__ import annotations

from fastapi import APIRouter

from server.api.openapi import error_responses
from server.api.protocol.common import ModelCard, ModelList
from server.api.state import AppState, State
from server.errors import ModelNotFound

router = APIRouter()


def model_card(state: AppState) -> ModelCard:
    info = state.engine.info if state.engine is not None else None
    return ModelCard(
        id=state.model_name,
        created=state.started,
        root=(info.root if info is not None else None) or state.settings.model,
        max_model_len=info.max_model_len if info is not None else None,
    )


@router.get("/v1/models", response_model=ModelList, responses=error_responses(401))
async def list_models(state: State) -> ModelList:
    return ModelList(data=[model_card(state)])


@router.get(
    "/v1/models/{model_id:path}", response_model=ModelCard, responses=error_responses(401, 404)
)
async def retrieve_model(model_id: str, state: State) -> ModelCard:
    if model_id != state.model_name:
        raise ModelNotFound(f"the model {model_id[:64]!r} does not exist", param="model")
    return model_card(state)
