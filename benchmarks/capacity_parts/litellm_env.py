"""The LiteLLM proxy, the peer people put in front of `vllm serve`, in a venv of its own.

It is not a dependency of this project: the benchmark installs `litellm[proxy]` from PyPI into
`~/.cache/vtcr1/litellm-venv` the first time (~2-4 min; later runs reuse it) and configures one
`hosted_vllm/` model pointing at the upstream, as LiteLLM's docs describe for vLLM. It runs as
deployed: one uvicorn worker (its default), a master key (it refuses to start without one),
no database, logging at ERROR (its quietest: the comparison gives it its best case), and the
model cost map read from the package (no network at start).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MASTER_KEY = "sk-capacity-benchmark"


def venv_dir(cache: Path) -> Path:
    return cache / "litellm-venv"


def ensure_litellm(cache: Path) -> Path:
    """The `litellm` executable, installed on first use."""
    venv = venv_dir(cache)
    executable = venv / "bin" / "litellm"
    if executable.is_file():
        return executable
    print(f"installing litellm[proxy] into {venv} (first run only)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "litellm[proxy]"], check=True)
    return executable


def litellm_version(cache: Path) -> str:
    python = venv_dir(cache) / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def write_config(path: Path, model: str, upstream: str) -> Path:
    path.write_text(
        "model_list:\n"
        f"  - model_name: {model}\n"
        "    litellm_params:\n"
        f"      model: hosted_vllm/{model}\n"
        f"      api_base: {upstream.rstrip('/')}/v1\n"
        "      api_key: none\n"
    )
    return path


def litellm_command(executable: Path, config: Path, port: int) -> list[str]:
    return [str(executable), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]


LITELLM_ENV = {
    "LITELLM_MASTER_KEY": MASTER_KEY,
    "LITELLM_LOG": "ERROR",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
