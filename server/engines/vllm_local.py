"""The `vllm` engine: vLLM's V1 `AsyncLLM` in this process (its engine core in child processes).

The prompt is rendered here with the model's own chat template (the HF processor's
`apply_chat_template`, as the VTC-R1 reference evaluator does) and the PIL images go straight
into `multi_modal_data`: no PNG round trip, and vLLM hashes the pixels for its prefix and encoder
caches, so re-sent pages hit. The same code runs on the CUDA and the CPU builds of vLLM; only the
installed package differs.

vLLM's CPU build starts its engine core with the `spawn` start method: create the engine from a
function (an app lifespan, a fixture), never at import time of a `__main__` module.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from server.engines.base import (
    ChatMessage,
    EngineError,
    GenerationDelta,
    GenerationParams,
    ModelInfo,
    stop_cause,
)
from server.engines.engine_args import build_engine_args
from server.engines.image_tokens import ImageTokenCounter
from server.engines.platforms import apply_env_defaults, detected_kind
from server.engines.prompt import image_overhead_tokens, prompt_images
from server.engines.tokenizer import ModelTokenizer

if TYPE_CHECKING:
    from server.settings import Settings

log = logging.getLogger(__name__)


def apply_cpu_defaults(environ: MutableMapping[str, str] = os.environ) -> bool:
    """On vLLM's CPU build, its environment defaults unless set (`platforms.env_defaults`:
    1 GiB of KV cache, loopback for its internal traffic). Chosen by what is installed: nothing
    changes with CUDA vLLM. Returns whether this is the CPU build."""
    kind = detected_kind()
    apply_env_defaults(kind, environ)
    return kind == "cpu"


class VllmLocalEngine:
    """`Engine` over an in-process `AsyncLLM`. Build it with `create`."""

    def __init__(self, llm: Any, processor: Any, info: ModelInfo) -> None:
        self._llm = llm
        self._processor = processor
        self._tokenizer = ModelTokenizer(processor)
        self.info = info
        self._closed = False

    @classmethod
    async def start(
        cls, settings: Settings, model: str, *, name: str | None = None
    ) -> VllmLocalEngine:
        """Start the engine without blocking the event loop (it takes ~20-30 s on CPU; the
        gateway keeps answering `/health` meanwhile). vLLM starts its output handler on the loop
        of the first request, so the engine may be built in a worker thread."""
        return await asyncio.to_thread(cls.create, settings, model, name=name)

    @classmethod
    def create(cls, settings: Settings, model: str, *, name: str | None = None) -> VllmLocalEngine:
        """Start the engine, blocking until it is up (prefer `start` inside an event loop)."""
        from transformers import AutoProcessor
        from vllm.v1.engine.async_llm import AsyncLLM

        apply_cpu_defaults()
        llm = AsyncLLM.from_engine_args(build_engine_args(settings, model))
        try:
            processor = AutoProcessor.from_pretrained(model)
            counter = ImageTokenCounter(
                model, mm_processor_kwargs=settings.mm_processor_kwargs, processor=processor
            )
            info = ModelInfo(
                name=name or settings.served_model_name or model,
                max_model_len=int(llm.model_config.max_model_len),
                image_tokens=counter,
                extra={"engine": "vllm", "model_path": model},
                root=model,
                special_tokens=ModelTokenizer(processor).special_tokens(),
            )
            engine = cls(llm, processor, info)
            info.extra["image_overhead_tokens"] = image_overhead_tokens(processor)
        except BaseException:
            llm.shutdown()
            raise
        return engine

    # --- prompt ---

    def render_prompt(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text exactly as the model's chat template renders it."""
        return self._tokenizer.chat_template(messages)

    def chat_template(
        self, messages: Sequence[ChatMessage], *, add_generation_prompt: bool = True
    ) -> str:
        return self._tokenizer.chat_template(messages, add_generation_prompt=add_generation_prompt)

    async def tokenize(self, text: str, *, add_special_tokens: bool = True) -> list[int]:
        return await self._tokenizer.tokenize(text, add_special_tokens=add_special_tokens)

    async def detokenize(self, tokens: Sequence[int]) -> str:
        return await self._tokenizer.detokenize(tokens)

    # --- Engine port ---

    async def generate(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        request_id: str,
        session_id: str | None = None,
    ) -> AsyncGenerator[GenerationDelta, None]:
        if self._closed:
            raise EngineError("engine is closed")
        stream = self._llm.generate(
            self._prompt(messages),
            sampling_params(params),
            request_id,
            # The template already holds every special token (as vLLM's chat path does).
            tokenization_kwargs={"add_special_tokens": False},
        )
        progress = _Progress(params.stop_token_ids)
        try:
            async for out in stream:
                delta = progress.feed(out)
                if delta is not None:
                    yield delta
                    if delta.finish_reason is not None:
                        return
        except EngineError:
            raise
        except Exception as exc:
            raise _engine_error(exc) from exc
        finally:
            # Closing our iterator early lands here: closing vLLM's generator aborts the
            # request in the engine core (it catches GeneratorExit and calls abort).
            await stream.aclose()

    def _prompt(self, messages: Sequence[ChatMessage]) -> dict[str, Any]:
        prompt: dict[str, Any] = {"prompt": self.render_prompt(messages)}
        images = prompt_images(messages)
        if images:
            prompt["multi_modal_data"] = {"image": images}
        return prompt

    async def abort(self, request_id: str) -> None:
        await self._llm.abort(request_id)

    async def check_health(self) -> None:
        if self._closed:
            raise EngineError("engine is closed")
        try:
            await self._llm.check_health()
        except Exception as exc:
            raise EngineError(f"vLLM engine is unhealthy: {exc}") from exc

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        llm, self._llm = self._llm, _ClosedLLM()
        llm.shutdown()
        # AsyncLLM.__del__ calls shutdown() again; if a stray reference keeps the object alive
        # until interpreter exit, that second call fails noisily on torn-down modules.
        llm.shutdown = _noop

    # --- introspection (tests, metrics) ---

    def num_unfinished_requests(self) -> int:
        """Requests the frontend still tracks (0 once every stream ended or was aborted)."""
        return int(self._llm.get_num_unfinished_requests())

    async def kv_cache_idle(self) -> bool:
        """True when no request holds KV blocks in the engine core (it then frees the prefix
        cache, so call it only where losing cached prefixes does not matter)."""
        return bool(await self._llm.reset_prefix_cache())


def sampling_params(params: GenerationParams) -> Any:
    """vLLM's `SamplingParams` for the port's parameters (deltas, not cumulative outputs)."""
    from vllm.sampling_params import RequestOutputKind, SamplingParams

    return SamplingParams(
        max_tokens=params.max_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        seed=params.seed,
        stop=list(params.stop) or None,
        skip_special_tokens=params.skip_special_tokens,
        spaces_between_special_tokens=False,
        output_kind=RequestOutputKind.DELTA,
        ignore_eos=params.ignore_eos,
        min_tokens=params.min_tokens,
        top_k=params.top_k or 0,  # vLLM: 0 is off
        min_p=params.min_p,
        repetition_penalty=params.repetition_penalty,
        stop_token_ids=list(params.stop_token_ids) or None,
    )


class _Progress:
    """Turns vLLM's delta `RequestOutput`s of one request into the port's deltas."""

    def __init__(self, stop_token_ids: Sequence[int] = ()) -> None:
        self.stop_token_ids = frozenset(stop_token_ids)
        self.prompt_tokens = 0
        self.cached = 0
        self.generated = 0
        self.started = False

    def feed(self, out: Any) -> GenerationDelta | None:
        """The delta for one output; None when it brings nothing new."""
        if out.prompt_token_ids is not None:
            self.prompt_tokens = len(out.prompt_token_ids)
        if out.num_cached_tokens is not None:
            self.cached = out.num_cached_tokens
        completion = out.outputs[0] if out.outputs else None
        if completion is None:
            text, finish, stop_reason = "", None, None
        else:
            text, finish = completion.text, completion.finish_reason
            self.generated += len(completion.token_ids)
            # vLLM's stop_reason: the stop string, a stop token id, or None for EOS.
            stop_reason = completion.stop_reason
        if out.finished and finish is None:
            finish = "abort"
        if not text and finish is None and self.started:
            return None
        self.started = True
        stop_sequence, stop_token = stop_cause(finish, stop_reason, self.stop_token_ids)
        return GenerationDelta(
            text=text,
            generated_tokens=self.generated,
            prompt_tokens=self.prompt_tokens,
            cached_tokens=self.cached,
            finish_reason=finish,
            stop_sequence=stop_sequence,
            stop_token=stop_token,
        )


def _engine_error(exc: Exception) -> EngineError:
    name = type(exc).__name__
    cause = exc.__cause__ if name == "EngineGenerateError" and exc.__cause__ else exc
    message = f"{type(cause).__name__}: {cause}"
    # A dead engine core will not come back by retrying; a bad request never succeeds.
    return EngineError(message, retryable=False)


def _noop(*args: object, **kwargs: object) -> None:
    return None


class _ClosedLLM:
    """Stands in for the AsyncLLM after `aclose`, so late calls fail clearly."""

    def __getattr__(self, name: str) -> Any:
        raise EngineError("engine is closed")
