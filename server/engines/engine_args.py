"""vLLM's engine arguments for the in-process engine, built by vLLM's own CLI parser.

The settings become the `vllm serve` flags they stand for, plus `--vllm-args` verbatim, and
vLLM's `FlexibleArgumentParser` with `AsyncEngineArgs.add_cli_args` turns them into
`AsyncEngineArgs`. So an unknown flag, or one a vLLM release renamed, fails at start with
vLLM's own message (`unrecognized arguments: ...`), before any weights load, instead of minutes
later or never; and a flag means exactly what it means to `vllm serve`.

The parser's `error` is made to raise instead of printing vLLM's whole usage (hundreds of
flags) and exiting, so `vtcr1 serve` can say what is wrong in one line.
"""

from __future__ import annotations

import argparse
import json
import shlex
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from server.settings import Settings


class EngineArgsError(ValueError):
    """vLLM's parser refused the engine arguments (its message)."""


def engine_cli_args(settings: Settings, model: str) -> list[str]:
    """The `vllm serve` flags the settings stand for, then `settings.vllm_args`."""
    args = [
        "--model",
        model,
        "--dtype",
        settings.dtype,
        # Pages are images; videos never come, so vLLM need not profile one.
        "--limit-mm-per-prompt",
        json.dumps({"image": settings.max_images_per_prompt, "video": 0}),
        "--enable-prefix-caching"
        if settings.enable_prefix_caching
        else "--no-enable-prefix-caching",
        "--tensor-parallel-size",
        str(settings.tensor_parallel_size),
        "--pipeline-parallel-size",
        str(settings.pipeline_parallel_size),
        "--gpu-memory-utilization",
        str(settings.gpu_memory_utilization),
    ]
    optional: dict[str, Any] = {
        "--max-model-len": settings.max_model_len,
        "--max-num-seqs": settings.max_num_seqs,
        "--served-model-name": settings.served_model_name,
        "--mm-processor-kwargs": json.dumps(settings.mm_processor_kwargs)
        if settings.mm_processor_kwargs
        else None,
    }
    for flag, value in optional.items():
        if value is not None:
            args += [flag, str(value)]
    if settings.enforce_eager:
        args.append("--enforce-eager")
    return [*args, *shlex.split(settings.vllm_args)]


def parse_engine_flags(argv: list[str]) -> argparse.Namespace:
    """vLLM's parse of `vllm serve`-style engine flags (field names of `AsyncEngineArgs`).
    Raises `EngineArgsError` with vLLM's message. Imports vLLM (~7 s of CPU), loads nothing and
    resolves no model (`preflight` runs it before the tiny model is even built)."""
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    class _RaisingParser(FlexibleArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise EngineArgsError(message)

    parser = _RaisingParser(prog="vtcr1 serve (vLLM engine arguments)", add_help=False)
    AsyncEngineArgs.add_cli_args(parser)
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse paths that exit without calling `error`
        raise EngineArgsError(f"vLLM's parser exited ({exc.code}) on {shlex.join(argv)}") from exc


def build_engine_args(settings: Settings, model: str) -> Any:
    """The `AsyncEngineArgs` the in-process engine starts with (vLLM then checks the values
    too, e.g. that an offline model path exists)."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    return AsyncEngineArgs.from_cli_args(parse_engine_flags(engine_cli_args(settings, model)))
