"""Project scripts: the venv set-up helpers, the vLLM CPU fixes, `make gpu-check`."""
