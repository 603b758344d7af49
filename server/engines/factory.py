"""Engine construction from the settings: the one place that knows both adapters."""

from __future__ import annotations

import asyncio
from typing import Any

from server.engines.base import Engine, ModelInfo
from server.settings import Settings
from server.tiny_model import MODEL_NAME, ensure_tiny_model


def resolve_model(settings: Settings) -> str:
    """The model to load: the configured one, else the tiny model (built once into the cache)."""
    if settings.model:
        return settings.model
    return str(ensure_tiny_model(settings.cache_dir))


def default_model_name(settings: Settings) -> str:
    """What clients send as `model` unless `served_model_name` says otherwise."""
    if settings.served_model_name:
        return settings.served_model_name
    if not settings.model:
        return MODEL_NAME
    return settings.model


async def create_engine(settings: Settings) -> Engine:
    """Build the engine `settings.engine` names. The in-process engine starts in a worker thread
    (~20-30 s on CPU) so the event loop keeps serving meanwhile."""
    model = resolve_model(settings)
    if settings.engine == "vllm":
        from server.engines.vllm_local import VllmLocalEngine

        return await VllmLocalEngine.start(settings, model, name=default_model_name(settings))
    if settings.engine == "openai":
        return await create_remote_engine(settings, model)
    raise ValueError(f"unknown engine {settings.engine!r}")


async def create_remote_engine(settings: Settings, model: str) -> Engine:
    """The `openai` engine. The name to send as `model` and the context length come from the
    replicas' `/v1/models` (falling back to the settings when none answers yet); the image
    token count comes from the model's processor, read locally."""
    from server.engines.image_tokens import ImageTokenCounter
    from server.engines.openai_remote import OpenAIRemoteEngine, fetch_served_model
    from server.engines.prompt import image_overhead_tokens

    if not settings.backend_urls:
        raise ValueError("engine 'openai' needs --backend-urls")
    served = await fetch_served_model(settings.backend_urls)
    name = settings.served_model_name or (served[0] if served else default_model_name(settings))
    max_len = settings.max_model_len or (served[1] if served else None)
    if max_len is None:
        max_len = _config_max_len(model)
    counter = ImageTokenCounter(model, mm_processor_kwargs=settings.mm_processor_kwargs)
    # The tokenizer and its chat template (no weights, no torch) are read here, once, off the
    # event loop.
    overhead = await asyncio.to_thread(lambda: image_overhead_tokens(_tokenizer(model)))
    info = ModelInfo(
        name=name,
        max_model_len=max_len,
        image_tokens=counter,
        wants_png=True,
        extra={
            "engine": "openai",
            "backend_urls": list(settings.backend_urls),
            "image_overhead_tokens": overhead,
        },
    )
    return OpenAIRemoteEngine(settings.backend_urls, info)


def _tokenizer(model: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model)


def _config_max_len(model: str) -> int:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    text = getattr(config, "text_config", config)
    return int(getattr(text, "max_position_embeddings", 4096))


__all__ = ["create_engine", "create_remote_engine", "default_model_name", "resolve_model"]
