"""Engine construction from the settings: the one place that knows both adapters."""

from __future__ import annotations

import asyncio

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
    """The `openai` engine. The name to send as `model`, the context length and the model root
    come from the replicas' `/v1/models` (falling back to the settings when none answers yet);
    the image token count and the tokenizer come from the model's files, read locally."""
    from server.engines.image_tokens import ImageTokenCounter
    from server.engines.openai_remote import OpenAIRemoteEngine
    from server.engines.prompt import image_overhead_tokens
    from server.engines.remote_health import fetch_served_model
    from server.engines.tokenizer import ModelTokenizer

    if not settings.backend_urls:
        raise ValueError("engine 'openai' needs --backend-urls")
    served = await fetch_served_model(settings.backend_urls)
    name = settings.served_model_name or (served.name if served else default_model_name(settings))
    max_len = settings.max_model_len or (served.max_model_len if served else None)
    if max_len is None:
        max_len = _config_max_len(model)
    counter = ImageTokenCounter(model, mm_processor_kwargs=settings.mm_processor_kwargs)
    # The tokenizer and its chat template (no weights, no torch) are read here, once, off the
    # event loop.
    tokenizer = await asyncio.to_thread(ModelTokenizer.load, model)
    overhead = await asyncio.to_thread(image_overhead_tokens, tokenizer.tokenizer)
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
        # No replica answered yet: the local copy the tokenizer was read from.
        root=served.root if served and served.root else model,
        special_tokens=tokenizer.special_tokens(),
    )
    return OpenAIRemoteEngine(settings.backend_urls, info, tokenizer=tokenizer)


def _config_max_len(model: str) -> int:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    text = getattr(config, "text_config", config)
    return int(getattr(text, "max_position_embeddings", 4096))


__all__ = ["create_engine", "create_remote_engine", "default_model_name", "resolve_model"]
