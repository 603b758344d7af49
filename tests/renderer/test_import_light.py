"""What the renderer pulls in. Importing it must not load numba/llvmlite (see
`renderer.raster._native`): vLLM's CPU workers re-import their parent's `__main__` and crash on
llvmlite's lazy wrappers. And it imports nothing of the server, clients or tests."""

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


def test_renderer_is_a_leaf_library() -> None:
    """The renderer is also used on its own (building training pages): nothing in it may
    import the server, the clients or the tests, not even lazily inside a function."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "renderer"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [f"{path.name}: {n}" for n in names if n.split(".")[0] in _NOT_LEAF]
    assert len(list(root.rglob("*.py"))) > 10
    assert found == []


_NOT_LEAF = {"server", "clients", "tests", "benchmarks"}
