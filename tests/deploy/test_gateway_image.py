"""The slim `gateway` image has no torch, torchvision or vLLM: the remote-engine code path must
work without them. Simulated here by a child interpreter in which those imports fail
(`sys.modules[name] = None` makes both `import` and `importlib.util.find_spec` see nothing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.deploy.tools import ROOT

ABSENT = ("torch", "torchvision", "torchaudio", "vllm", "triton")
PRELUDE = f"import sys\nfor _n in {ABSENT!r}:\n    sys.modules[_n] = None\n"


def run_without_torch(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_simulation_hides_torch() -> None:
    proc = run_without_torch("import torch")
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_remote_mode_imports_without_torch() -> None:
    proc = run_without_torch(
        "import server.cli, server.api.app, server.engines.factory, server.engines.openai_remote\n"
        "from server.settings import Settings\n"
        "s = Settings(engine='openai', backend_urls='http://a:8000,http://b:8000')\n"
        "assert s.backend_urls == ['http://a:8000', 'http://b:8000']\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in {'torch', 'vllm'}"
        " and sys.modules[m] is not None]\n"
        "assert not loaded, loaded\n"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_image_token_accounting_without_torch(tiny_model_dir: Path) -> None:
    from server.engines.image_tokens import ImageTokenCounter

    expected = ImageTokenCounter(str(tiny_model_dir))(595, 400)
    proc = run_without_torch(
        "from server.engines.image_tokens import ImageTokenCounter\n"
        f"print(ImageTokenCounter({str(tiny_model_dir)!r})(595, 400))\n"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) == expected
