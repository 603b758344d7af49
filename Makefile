# The two commands README.md opens with. Both set everything up on a fresh machine.
VENV   ?= .venv
PORT   ?= 8000
MODEL  ?=
STAMP  := $(VENV)/.vtcr1-installed

.PHONY: serve test lint typecheck pytest setup bench clean gpu-check

$(STAMP): pyproject.toml scripts/setup_venv.sh scripts/vllm_cpu_fixes.py
	VENV=$(VENV) bash scripts/setup_venv.sh
	touch $@

setup: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/vtcr1 serve --port $(PORT) $(if $(MODEL),--model $(MODEL))

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(VENV)/bin/pytest -q -rs

test: lint typecheck pytest

# A fresh GPU machine (or a container of the image) proves the whole path in ~10 min, offline:
# engine tests, API, capacity and inter-round gap on the tiny model (CUDA graphs on), and with
# MODEL=<local checkpoint> vtcr1 eval + bench. On a CPU machine the same steps run on vllm-cpu.
# Writes gpu-check/report.json and gpu-check/report.md (docs/engines.md, "gpu-check").
gpu-check: $(STAMP)
	$(VENV)/bin/python -m scripts.gpu_check $(if $(MODEL),--model $(MODEL))

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/render.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
