"""What both APIs check and build the same way on the way to a `LoopRequest`: the model name,
caps, the `vtc` object, sampling (OpenAI's and vLLM's extensions), images, and the limits of the
conversation.

Everything here runs before the first byte of the response, so a bad request gets a status code
and an OpenAI error body rather than a broken stream.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

from server.api.images import decode_image_url, open_image
from server.api.protocol.sampling import ReasoningEffort, SamplingExtensions
from server.api.protocol.vtc import VtcOptions
from server.engines.base import ChatMessage, ImagePart, TextPart
from server.errors import InvalidRequest, ModelNotFound, Unsupported
from server.loop.request import CompressInput, LoopOptions, Sampling
from server.settings import Settings

log = logging.getLogger("vtcr1.api")


def check_model(model: str, served_names: tuple[str, ...]) -> None:
    if model not in served_names:
        shown = model if len(model) <= 64 else model[:64] + "..."
        raise ModelNotFound(
            f"the model {shown!r} does not exist; this server serves {served_names[0]!r}",
            param="model",
        )


def check_max_tokens(name: str, value: int | None, settings: Settings) -> None:
    if value is not None and value > settings.max_tokens_limit:
        raise InvalidRequest(
            f"{name} is too large; this server allows at most {settings.max_tokens_limit}",
            param=name,
        )


def check_vtc(vtc: VtcOptions | None, settings: Settings) -> None:
    """Values in range for the API but beyond what this server is configured to spend."""
    if vtc is None:
        return
    caps = (
        ("max_rounds", vtc.max_rounds, settings.max_rounds_limit),
        ("round_max_tokens", vtc.round_max_tokens, settings.round_max_tokens_limit),
    )
    for name, value, cap in caps:
        if value is not None and value > cap:
            raise InvalidRequest(
                f"vtc.{name} is too large; this server allows at most {cap}", param=f"vtc.{name}"
            )


def check_extensions(ext: SamplingExtensions) -> None:
    if ext.chat_template_kwargs:
        raise Unsupported(
            "chat_template_kwargs are not supported: the VTC loop builds every round's prompt",
            param="chat_template_kwargs",
        )


def check_effort(effort: ReasoningEffort | None, param: str) -> None:
    if effort == "none":
        raise Unsupported(
            "this model always reasons: reasoning effort 'none' is not supported", param=param
        )


def rounds_for_effort(effort: ReasoningEffort | None, settings: Settings) -> int | None:
    """Reasoning effort is a budget of rounds: high (and xhigh) the server's `max_rounds`,
    medium half of it, low a quarter, minimal one round (no optical memory)."""
    share = {"minimal": 0.0, "low": 0.25, "medium": 0.5, "high": 1.0, "xhigh": 1.0}
    if effort is None or effort not in share:
        return None
    return max(1, math.ceil(settings.max_rounds * share[effort]))


def loop_options(
    vtc: VtcOptions | None,
    effort: ReasoningEffort | None,
    settings: Settings,
    keep: int | None = None,
) -> LoopOptions:
    """`keep`: the index of the question among the last message's parts (`vtc_keep`)."""
    vtc = vtc or VtcOptions()
    compress = vtc.compress_input
    return LoopOptions(
        mode=vtc.mode or "vtc",
        max_rounds=vtc.max_rounds or rounds_for_effort(effort, settings) or settings.max_rounds,
        round_max_tokens=vtc.round_max_tokens or settings.round_max_tokens,
        image_order=vtc.image_order or settings.image_order,
        system_prompt=settings.system_prompt,
        max_pages_per_round=settings.max_pages_per_round,
        max_images_per_prompt=settings.max_images_per_prompt,
        compress_input=None
        if compress is None
        else CompressInput(min_tokens=compress.min_tokens, scope=compress.scope, keep=keep),
    )


def kept_part(flags: Sequence[bool], param: str) -> int | None:
    """The index of the one part marked `vtc_keep` (None: none is)."""
    marked = [i for i, flag in enumerate(flags) if flag]
    if len(marked) > 1:
        raise InvalidRequest("only one part may be marked vtc_keep", param=param)
    return marked[0] if marked else None


def stop_strings(stop: str | Sequence[str] | None, param: str = "stop") -> tuple[str, ...]:
    strings = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(strings) > 4 or any(not s for s in strings):
        raise InvalidRequest("stop takes up to 4 non-empty strings", param=param)
    return strings


def sampling(
    *,
    temperature: float | None,
    top_p: float | None,
    seed: int | None,
    stop: tuple[str, ...],
    max_tokens: int | None,
    ext: SamplingExtensions,
    settings: Settings,
) -> Sampling:
    temperature = settings.temperature if temperature is None else temperature
    top_p = settings.top_p if top_p is None else top_p
    if top_p == 0:
        # OpenAI allows top_p 0 (keep only the likeliest token); vLLM wants > 0: same as greedy.
        temperature, top_p = 0.0, 1.0
    return Sampling(
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        stop=stop,
        # Unset: all rounds' tokens, but never more than the server's cap.
        max_tokens=max_tokens or settings.max_tokens_limit,
        ignore_eos=ext.ignore_eos,
        min_tokens=ext.min_tokens,
        top_k=None if ext.top_k is None or ext.top_k <= 0 else ext.top_k,
        min_p=ext.min_p,
        repetition_penalty=ext.repetition_penalty,
        stop_token_ids=tuple(ext.stop_token_ids or ()),
    )


def image_part(url: str, param: str, settings: Settings, loaded: Mapping[str, bytes]) -> ImagePart:
    """An image of the request: already fetched (http(s), file:) or a data: URL."""
    if url in loaded:
        return ImagePart(open_image(loaded[url], param=param, max_pixels=settings.max_image_pixels))
    image = decode_image_url(
        url, param=param, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
    )
    return ImagePart(image)


def check_conversation(messages: Sequence[ChatMessage], settings: Settings, param: str) -> None:
    """Limits of the converted conversation: message count, images, characters of text."""
    if len(messages) > settings.max_messages:
        raise InvalidRequest(
            f"too many messages ({len(messages)} > {settings.max_messages})", param=param
        )
    images = sum(len(m.images) for m in messages)
    if images > settings.max_input_images:
        raise InvalidRequest(
            f"too many images ({images} > {settings.max_input_images})", param=param
        )
    text = sum(len(p.text) for m in messages for p in m.parts if isinstance(p, TextPart))
    if text > settings.max_text_chars:
        raise InvalidRequest(
            f"too much text ({text} > {settings.max_text_chars} characters)", param=param
        )


def log_unknown(fields: Sequence[str]) -> None:
    if fields:
        log.info("ignoring unknown request fields: %s", ", ".join(fields))
