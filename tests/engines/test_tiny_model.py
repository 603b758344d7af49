"""The tiny model: deterministic, loadable by transformers, shaped like GLM-4.1V."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from server.tiny_model import MAX_IMAGE_TOKENS, RECIPE_VERSION, build_tiny_model, main
from server.tiny_model.build import ensure_tiny_model
from server.tiny_model.tokenizer import GLM_SPECIAL_TOKENS, REASONING_TOKENS
from tests.engines.pages import page


def _digests(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.is_file()
    }


def test_rebuild_is_byte_identical(tiny_model_dir: Path, tmp_path: Path) -> None:
    rebuilt = build_tiny_model(tmp_path / "again")
    expected = _digests(tiny_model_dir)
    assert "model.safetensors" in expected and "tokenizer.json" in expected
    assert _digests(rebuilt) == expected


def test_ensure_builds_once_under_the_recipe_version(tmp_path: Path) -> None:
    first = ensure_tiny_model(tmp_path)
    assert first.name.endswith(f"r{RECIPE_VERSION}")
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model(tmp_path) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    # Built in a temp dir and renamed: nothing half-written is left next to it.
    assert [p.name for p in tmp_path.iterdir()] == [first.name]


def test_cli_writes_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "config.json").is_file()
    assert "tiny model written" in capsys.readouterr().out


def test_config_ids_match_the_tokenizer(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    ids = {
        "image_token_id": "<|image|>",
        "video_token_id": "<|video|>",
        "image_start_token_id": "<|begin_of_image|>",
        "image_end_token_id": "<|end_of_image|>",
    }
    for key, token in ids.items():
        assert config[key] == tok.convert_tokens_to_ids(token)
    assert len(tok) <= config["text_config"]["vocab_size"]
    assert 3500 < len(tok) < 4500  # ~4k tokens
    # Every special and reasoning token is one token and survives decoding.
    for token in (*GLM_SPECIAL_TOKENS, *REASONING_TOKENS):
        ids_ = tok.encode(token, add_special_tokens=False)
        assert len(ids_) == 1, token
    text = "<think>\nSo 1 + 2 = 3.\n</think>\n<answer>3</answer>"
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text
    # A real BPE: English costs well under one token per character.
    sample = "Therefore the probability is at most the value we computed before."
    assert len(tok.encode(sample, add_special_tokens=False)) < len(sample) / 3


def test_processor_caps_an_image_at_about_1024_tokens(tiny_model_dir: Path) -> None:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    huge = processor._get_num_multimodal_tokens(image_sizes=[[4000, 3000]])
    assert 900 < huge["num_image_tokens"][0] <= MAX_IMAGE_TOKENS
    # 595 x 400 -> 21 x 14 merged patches (the note's measurement).
    assert processor._get_num_multimodal_tokens(image_sizes=[[400, 595]])["num_image_tokens"] == [
        294
    ]


def test_transformers_runs_it_and_the_image_matters(tiny_model_dir: Path) -> None:
    """The checkpoint loads in transformers (not only vLLM) and the pixels reach the model."""
    import torch
    from transformers import AutoProcessor, Glm4vForConditionalGeneration

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    model = Glm4vForConditionalGeneration.from_pretrained(tiny_model_dir, dtype=torch.float32)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    logits = []
    for img in (page(1), page(2).convert("L").convert("RGB").point(lambda v: 255 - v)):
        inputs = processor(text=[text], images=[img], return_tensors="pt")
        with torch.no_grad():
            logits.append(model(**inputs).logits[0, -1])
    assert inputs["input_ids"].shape[1] == 352 + 10
    assert not torch.allclose(logits[0], logits[1])
