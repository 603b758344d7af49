"""`POST /tokenize` and `POST /detokenize`: the served model's tokenizer, as `vllm serve`
answers them (same paths, shapes and token ids), for both engines."""

from __future__ import annotations

from fastapi import APIRouter

from server.api import translate as common
from server.api.chat.translate import convert_message
from server.api.openapi import error_responses
from server.api.protocol.tokenize import (
    DetokenizeRequest,
    DetokenizeResponse,
    TokenizeChatRequest,
    TokenizeRequest,
    TokenizeResponse,
)
from server.api.state import AppState, State
from server.api.strict_json import StrictJSONRoute
from server.engines.base import Engine
from server.errors import InvalidRequest, Unsupported

router = APIRouter(route_class=StrictJSONRoute, strict_content_type=False)


def _engine(state: AppState, model: str | None) -> Engine:
    state.require_service()
    assert state.engine is not None
    if model is not None:
        common.check_model(model, (state.model_name,))
    return state.engine


@router.post("/tokenize", response_model=TokenizeResponse, responses=error_responses())
async def tokenize(body: TokenizeRequest, state: State) -> TokenizeResponse:
    engine = _engine(state, body.model)
    if body.return_token_strs:
        raise Unsupported("return_token_strs is not supported", param="return_token_strs")
    if isinstance(body, TokenizeChatRequest):
        messages = [convert_message(m, i, state.settings, {}) for i, m in enumerate(body.messages)]
        if any(m.images for m in messages):
            raise InvalidRequest("images are not supported by /tokenize", param="messages")
        text = engine.chat_template(messages, add_generation_prompt=body.add_generation_prompt)
    else:
        text = body.prompt
    if len(text) > state.settings.max_text_chars:
        raise InvalidRequest(
            f"too much text ({len(text)} > {state.settings.max_text_chars} characters)"
        )
    tokens = await engine.tokenize(text, add_special_tokens=body.add_special_tokens)
    return TokenizeResponse(
        count=len(tokens), max_model_len=engine.info.max_model_len, tokens=tokens
    )


@router.post("/detokenize", response_model=DetokenizeResponse, responses=error_responses())
async def detokenize(body: DetokenizeRequest, state: State) -> DetokenizeResponse:
    engine = _engine(state, body.model)
    if len(body.tokens) > state.settings.max_text_chars:
        raise InvalidRequest("too many tokens", param="tokens")
    return DetokenizeResponse(prompt=await engine.detokenize(body.tokens))
