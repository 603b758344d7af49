"""Importing the renderer must not load numba/llvmlite (see `renderer.raster._native`): vLLM's
CPU workers re-import their parent's `__main__` and crash on llvmlite's lazy wrappers."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_numba_until_first_render() -> None:
    code = (
        "import sys, renderer, server.loop.runner\n"
        "assert 'llvmlite' not in sys.modules and 'numba' not in sys.modules\n"
        "renderer.render_pages('x')\n"
        "print('llvmlite' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "True"
