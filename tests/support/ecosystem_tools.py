"""The ecosystem's own clients, installed outside the product venv, once per machine.

LiteLLM (the SDK for the compatibility tests, its proxy for `benchmarks/capacity.py`) is heavy
and pins versions of its own, so it lives in a venv of its own; the OpenAI Node SDK comes from
the npm registry. Both go under the cache directory (`$VTCR1_CACHE_DIR`, else
`~/.cache/vtcr1`, the server's own default), where a later session, CI run or benchmark finds
them: `litellm[proxy]` takes 2-4 min to install (the capacity benchmark's figure), `openai@6`
from npm 4-8 s (measured on two busy cores, 2026-11-30); reusing them costs nothing.

One install at a time (a file lock: several people and sessions share these machines), and a
stamp written only after the install succeeded, naming what was installed: an interrupted
install is redone, a changed requirement reinstalls into the same place. A venv made by other
code (no stamp, e.g. the capacity benchmark's own installer) is brought up to date by pip in place,
never deleted, so a benchmark using it at that moment keeps working.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# Pinned: the compatibility tests assert what this release does with our fields (it maps
# `reasoning_content`); a new release is taken on purpose, by changing this line.
LITELLM_REQUIREMENT = "litellm[proxy]==1.108.7"
# The Node SDK's newest major that runs on these machines' Node 20 (7.x needs Node 22).
NODE_OPENAI_REQUIREMENT = "openai@6"
INSTALL_TIMEOUT_S = 1200.0
_STAMP = ".vtcr1-installed"


def cache_root() -> Path:
    """Where the tools live: the server's cache directory."""
    configured = os.environ.get("VTCR1_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "vtcr1"


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def install_once(target: Path, requirement: str, install: Callable[[Path], None]) -> Path:
    """`target`, with `install(target)` run first unless its stamp already names
    `requirement`."""
    stamp = target / _STAMP
    with _locked(target):
        if stamp.is_file() and stamp.read_text() == requirement:
            return target
        print(f"installing {requirement} into {target} (once per machine)...", flush=True)
        install(target)
        stamp.write_text(requirement)
    return target


def _run(command: list[str], cwd: Path | None = None) -> None:
    subprocess.run(command, cwd=cwd, check=True, timeout=INSTALL_TIMEOUT_S)


def _install_litellm(venv: Path) -> None:
    python = venv / "bin" / "python"
    if not python.is_file():
        _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(python), "-m", "pip", "install", "--quiet", LITELLM_REQUIREMENT])


def ensure_litellm_venv(cache: Path | None = None) -> Path:
    """The venv with LiteLLM (SDK and proxy, `bin/litellm`); returns its directory."""
    venv = (cache or cache_root()) / "litellm-venv"
    return install_once(venv, LITELLM_REQUIREMENT, _install_litellm)


def litellm_version(venv: Path) -> str:
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip() or "unknown"


def _install_node_openai(prefix: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError("npm is not installed")
    prefix.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund"]
    _run([*command, NODE_OPENAI_REQUIREMENT])


def ensure_node_openai(cache: Path | None = None) -> Path:
    """A directory whose `node_modules/openai` is the OpenAI Node SDK."""
    prefix = (cache or cache_root()) / "node-openai"
    return install_once(prefix, NODE_OPENAI_REQUIREMENT, _install_node_openai)


def node_package_version(prefix: Path, package: str) -> str:
    manifest = prefix / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text())["version"])
