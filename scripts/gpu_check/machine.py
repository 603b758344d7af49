"""What is installed and what was detected: the report's `versions` and `device`, and the
`platform` step that checks they fit together."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from typing import Any

from scripts.gpu_check.processes import child_env
from scripts.gpu_check.runner import StepFailed
from server.engines.platforms import count_nvidia_gpus, vllm_kind
from server.engines.vllm_version import TESTED_VLLM, UntestedVllm, check_vllm, installed_vllm

DISTRIBUTIONS = ("vtcr1", "torch", "transformers", "aiohttp", "fastapi")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "vllm_tested": TESTED_VLLM}
    installed = installed_vllm()
    found["vllm"] = str(installed) if installed else "not installed"
    for name in DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _gpu_names() -> list[str]:
    try:
        proc = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device() -> dict[str, Any]:
    gpus = _gpu_names()
    kind = vllm_kind(installed_vllm())
    cores = os.cpu_count()
    summary = f"{len(gpus)} x {gpus[0]}" if gpus else f"CPU only ({_cpu_name()}, {cores} cores)"
    return {"kind": kind, "gpus": gpus, "cpu": _cpu_name(), "cores": cores, "summary": summary}


def fixes_loaded_in_a_fresh_interpreter() -> bool:
    """Whether this environment's interpreters start with the CPU fixes (.pth) loaded."""
    code = "import sys; print('_vtcr1_vllm_cpu_fixes' in sys.modules)"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.strip() == "True"


def platform_step() -> dict[str, Any]:
    """The tested vLLM release, the build that fits the hardware (CUDA vLLM with a GPU,
    vllm-cpu without), and the CPU fixes loaded exactly on the CPU build."""
    installed = installed_vllm()
    try:
        check_vllm(installed, allow_untested=False)
    except UntestedVllm as exc:
        raise StepFailed(str(exc)) from None
    kind, gpus = vllm_kind(installed), count_nvidia_gpus()
    fixes = fixes_loaded_in_a_fresh_interpreter()
    numbers = {"kind": kind, "gpus": gpus, "cpu_fixes_loaded": fixes, "vllm": str(installed)}
    if gpus and kind != "cuda":
        raise StepFailed(f"{gpus} GPU(s) but the {kind} build of vLLM: run `make setup` again")
    if not gpus and kind == "cuda":
        raise StepFailed("CUDA vLLM is installed but nvidia-smi lists no GPU")
    if fixes != (kind == "cpu"):
        raise StepFailed(f"vllm_cpu_fixes loaded={fixes} on the {kind} build")
    return numbers
