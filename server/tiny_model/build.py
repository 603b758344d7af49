"""Build the tiny GLM-4.1V: a randomly initialised `Glm4vForConditionalGeneration` small enough to
run a real vLLM engine on two CPU cores, laid out exactly like a Hugging Face model repo.

Why a real architecture and not a fake: the engines, the prefix cache, the image-token accounting
and the chat template are then exercised by vLLM itself. The output text is gibberish.

Every file is written by this module with sorted keys and no timestamps, and the weights come
from a seeded generator, so a rebuild is byte-identical (tests check it). `RECIPE_VERSION` keys
the cache in `ensure_tiny_model`: bump it whenever anything here changes the files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

RECIPE_VERSION = 1
MODEL_NAME = "vtcr1-tiny-glm4v"
SEED = 1234

# Sizes (the note's recipe). head_dim = 128 / 4 = 32, the smallest the CPU attention accepts.
TEXT = {"hidden": 128, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 256}
VISION = {"hidden": 64, "layers": 2, "heads": 2, "patch": 14, "merge": 2, "intermediate": 128}
VOCAB_SIZE = 4096  # >= the tokenizer's 4020 entries, padded like real checkpoints
MAX_POSITIONS = 32768
# The image processor's `longest_edge` is a pixel *area* over two temporal frames:
# at most 1024 merged 28x28 tokens per image.
MAX_IMAGE_TOKENS = 1024
MIN_PIXELS = 112 * 112
PATCH_FACTOR = VISION["patch"] * VISION["merge"]  # 28
MAX_PIXELS = 2 * PATCH_FACTOR * PATCH_FACTOR * MAX_IMAGE_TOKENS

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _config(ids: dict[str, int]) -> dict[str, Any]:
    text = {
        "model_type": "glm4v_text",
        "vocab_size": VOCAB_SIZE,
        "hidden_size": TEXT["hidden"],
        "intermediate_size": TEXT["intermediate"],
        "num_hidden_layers": TEXT["layers"],
        "num_attention_heads": TEXT["heads"],
        "num_key_value_heads": TEXT["kv_heads"],
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITIONS,
        "rms_norm_eps": 1e-5,
        "attention_bias": True,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        # The legacy spelling real GLM-4.1V checkpoints use; transformers 5 folds it into
        # `rope_parameters`. M-RoPE sections sum to head_dim * 0.5 / 2 = 8.
        "partial_rotary_factor": 0.5,
        "rope_theta": 10000.0,
        "rope_scaling": {"type": "default", "mrope_section": [2, 3, 3]},
        "pad_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids[t] for t in ("<|endoftext|>", "<|user|>", "<|observation|>")],
        "dtype": "bfloat16",
        "use_cache": True,
        "tie_word_embeddings": False,
    }
    vision = {
        "model_type": "glm4v_vision",
        "depth": VISION["layers"],
        "hidden_size": VISION["hidden"],
        "num_heads": VISION["heads"],
        "intermediate_size": VISION["intermediate"],
        "out_hidden_size": TEXT["hidden"],
        "patch_size": VISION["patch"],
        "spatial_merge_size": VISION["merge"],
        "temporal_patch_size": 2,
        "in_channels": 3,
        "image_size": 336,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "rms_norm_eps": 1e-5,
        "initializer_range": 0.02,
    }
    return {
        "architectures": ["Glm4vForConditionalGeneration"],
        "model_type": "glm4v",
        "text_config": text,
        "vision_config": vision,
        "image_token_id": ids["<|image|>"],
        "video_token_id": ids["<|video|>"],
        "image_start_token_id": ids["<|begin_of_image|>"],
        "image_end_token_id": ids["<|end_of_image|>"],
        "video_start_token_id": ids["<|begin_of_video|>"],
        "video_end_token_id": ids["<|end_of_video|>"],
        "tie_word_embeddings": False,
        "dtype": "bfloat16",
        "vtcr1_tiny_recipe": RECIPE_VERSION,
    }


def _write_weights(config: dict[str, Any], out_dir: Path) -> None:
    """Instantiate the architecture from transformers (so the tensor names and shapes are
    whatever the installed version expects), then overwrite every tensor from one seeded
    generator in sorted-name order: norms 1, biases 0, everything else N(0, 0.02)."""
    import torch
    from safetensors.torch import save_file
    from transformers import Glm4vConfig, Glm4vForConditionalGeneration

    cfg = Glm4vConfig(**{k: v for k, v in config.items() if k != "vtcr1_tiny_recipe"})
    with torch.device("meta"):
        model = Glm4vForConditionalGeneration(cfg)
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    gen = torch.Generator().manual_seed(SEED)
    tensors: dict[str, torch.Tensor] = {}
    for name in sorted(shapes):
        shape = shapes[name]
        if "norm" in name and name.endswith(".weight") and len(shape) == 1:
            t = torch.ones(shape)
        elif name.endswith(".bias"):
            t = torch.zeros(shape)
        else:
            t = torch.randn(shape, generator=gen) * 0.02
        tensors[name] = t.to(torch.bfloat16).contiguous()
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})


def _write_processor_files(out_dir: Path) -> None:
    image = {
        "image_processor_type": "Glm4vImageProcessor",
        "processor_class": "Glm4vProcessor",
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "rescale_factor": 1 / 255,
        "resample": 3,
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
        "patch_size": VISION["patch"],
        "temporal_patch_size": 2,
        "merge_size": VISION["merge"],
        "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
    }
    video = {
        "video_processor_type": "Glm4vVideoProcessor",
        "processor_class": "Glm4vProcessor",
        "do_resize": True,
        "do_rescale": True,
        "do_normalize": True,
        "do_convert_rgb": True,
        "do_sample_frames": True,
        "rescale_factor": 1 / 255,
        "resample": 3,
        "image_mean": CLIP_MEAN,
        "image_std": CLIP_STD,
        "patch_size": VISION["patch"],
        "temporal_patch_size": 2,
        "merge_size": VISION["merge"],
        "fps": 2,
        "num_frames": 16,
        "max_duration": 300,
        "size": {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        "max_image_size": {"longest_edge": MAX_PIXELS},
    }
    _write_json(out_dir / "preprocessor_config.json", image)
    _write_json(out_dir / "video_preprocessor_config.json", video)


def _write_tokenizer_files(out_dir: Path) -> dict[str, int]:
    from server.tiny_model.tokenizer import (
        EOS_TOKEN,
        GLM_SPECIAL_TOKENS,
        REASONING_TOKENS,
        chat_template,
        train_tokenizer,
    )

    tok = train_tokenizer()
    backend = tok.backend_tokenizer
    backend.save(str(out_dir / "tokenizer.json"), pretty=False)
    ids: dict[str, int] = {}
    for token in (*GLM_SPECIAL_TOKENS, *REASONING_TOKENS):
        token_id = backend.token_to_id(token)
        if token_id is None:
            raise RuntimeError(f"tokenizer lost the token {token!r}")
        ids[token] = token_id
    _write_json(
        out_dir / "tokenizer_config.json",
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "processor_class": "Glm4vProcessor",
            "eos_token": EOS_TOKEN,
            "pad_token": EOS_TOKEN,
            "padding_side": "left",
            "clean_up_tokenization_spaces": False,
            "model_max_length": MAX_POSITIONS,
            "additional_special_tokens": list(GLM_SPECIAL_TOKENS[1:]),
        },
    )
    _write_json(
        out_dir / "special_tokens_map.json",
        {"eos_token": EOS_TOKEN, "pad_token": EOS_TOKEN},
    )
    (out_dir / "chat_template.jinja").write_text(chat_template(), encoding="utf-8")
    return ids


def build_tiny_model(out_dir: Path) -> Path:
    """Write the tiny model into `out_dir` (created; existing files overwritten) and return it."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = _write_tokenizer_files(out_dir)
    config = _config(ids)
    _write_json(out_dir / "config.json", config)
    _write_json(
        out_dir / "generation_config.json",
        {
            "eos_token_id": config["text_config"]["eos_token_id"],
            "pad_token_id": config["text_config"]["pad_token_id"],
            "do_sample": False,
        },
    )
    _write_processor_files(out_dir)
    _write_weights(config, out_dir)
    for path in out_dir.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the cache is shared read-only
    return out_dir


def ensure_tiny_model(cache_dir: Path) -> Path:
    """The tiny model under `cache_dir`, built once per recipe version.

    Built into a temporary sibling and renamed into place, so a crash or a concurrent build never
    leaves a half-written model where a reader would find it."""
    cache_dir = Path(cache_dir)
    target = cache_dir / f"tiny-glm4v-r{RECIPE_VERSION}"
    if (target / "model.safetensors").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=cache_dir))
    try:
        build_tiny_model(tmp)
        tmp.chmod(0o755)  # mkdtemp makes 0700
        try:
            tmp.rename(target)
        except OSError:
            # Another process won the race; its model is identical.
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
