"""What `vtcr1 serve` checks before it starts anything, so a wrong installation fails in one
line at once instead of minutes later in a traceback (or, worse, runs untested internals):

1. the installed vLLM is the tested release (`vllm_version.TESTED_VLLM`); otherwise an error,
   or a one-line warning with `--allow-untested-vllm` / `VTCR1_ALLOW_UNTESTED_VLLM=1`. Read from
   the package metadata, before vLLM is even imported.
2. a CUDA engine asking for more GPUs than `nvidia-smi` lists gets a one-line warning.
3. the engine arguments parse with vLLM's own parser (`engine_args`): an unknown or renamed
   flag fails with vLLM's message. This imports vLLM (the engine needs it a moment later
   anyway) but loads no weights.

Only the in-process engine (`--engine vllm`) runs vLLM here; with `--engine openai` the
gateway may have no vLLM at all and nothing is checked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from server.engines.engine_args import EngineArgsError, engine_cli_args, parse_engine_flags
from server.engines.platforms import count_nvidia_gpus, parallel_problem, vllm_kind
from server.engines.vllm_version import InstalledVllm, UntestedVllm, check_vllm, installed_vllm

if TYPE_CHECKING:
    from server.settings import Settings

# Exit status of a start refused for its configuration (argparse's usage-error status).
REFUSED = 2


class StartupRefused(Exception):
    """The server must not start; the message is one line."""


def preflight(
    settings: Settings,
    *,
    warn: Callable[[str], None],
    installed: Callable[[], InstalledVllm | None] = installed_vllm,
    gpus: Callable[[], int] = count_nvidia_gpus,
) -> None:
    """Run the checks; `warn` gets each warning line as soon as it is known. Raises
    `StartupRefused`. `installed` and `gpus` stand for the detection (tests fake them)."""
    if settings.engine != "vllm":
        return
    installed_now = installed()
    try:
        warning = check_vllm(installed_now, allow_untested=settings.allow_untested_vllm)
    except UntestedVllm as exc:
        raise StartupRefused(str(exc)) from None
    if warning is not None:
        warn(warning)
    tp, pp = settings.tensor_parallel_size, settings.pipeline_parallel_size
    if tp * pp > 1:  # only then is nvidia-smi asked
        problem = parallel_problem(vllm_kind(installed_now), tp, pp, gpus())
        if problem is not None:
            warn(problem)
    try:
        # The model is only a string to the parser: the tiny model need not be built yet.
        parse_engine_flags(engine_cli_args(settings, settings.model or "tiny-model"))
    except EngineArgsError as exc:
        raise StartupRefused(f"vLLM engine arguments: {exc}") from None


def refuse_to_start(settings: Settings) -> int | None:
    """`vtcr1 serve`'s hook: print the problem in one line on stderr and return the exit
    status, or None to go on."""

    def warn(line: str) -> None:
        print(f"vtcr1 serve: warning: {line}", file=sys.stderr, flush=True)

    try:
        preflight(settings, warn=warn)
    except StartupRefused as exc:
        print(f"vtcr1 serve: error: {exc}", file=sys.stderr, flush=True)
        return REFUSED
    return None
