"""The one settings object: every knob of the server, from flags and `VTCR1_*` env variables.

Precedence: command-line flag > environment variable > default. Flags are the field names in
kebab case (`--round-max-tokens 4096`), env variables are upper case with the `VTCR1_` prefix
(`VTCR1_ROUND_MAX_TOKENS=4096`). Lists take JSON or comma-separated values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Verbatim from the VTC-R1 reference code (the models were trained with it).
VTC_SYSTEM_PROMPT = (
    "These images record your previous reasoning process. Based on this reasoning, continue and "
    "complete the final answer. Do not restart the reasoning.\n"
    "If no images are provided, start the reasoning from scratch."
)

# The embedded tiny model is random: it never answers, so every request runs all its rounds.
# Unless set, it gets demo-sized rounds so a first question ends in seconds on two CPU cores; a
# real model keeps the paper's 8 rounds of 8192 tokens.
TINY_MODEL_DEFAULTS = {"max_rounds": 3, "round_max_tokens": 256}

ImageOrder = Literal["images_first", "question_first"]
ReasoningFields = Literal["both", "reasoning_content", "reasoning"]


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "vtcr1"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VTCR1_",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_prog_name="vtcr1 serve",
        extra="ignore",
        # `--api-key k1 --api-key k2` (the field is `api_keys`, env `VTCR1_API_KEYS`).
        cli_shortcuts={"api-keys": "api-key"},
    )

    # --- model and engine ---
    model: str | None = Field(
        None,
        description="HF model id or local path; unset: the embedded tiny model (built locally).",
    )
    served_model_name: str | None = Field(
        None, description="Name clients send as `model`; defaults to the model's name."
    )
    engine: Literal["vllm", "openai"] = Field(
        "vllm", description="vllm: in-process AsyncLLM; openai: remote `vllm serve` replicas."
    )
    backend_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Base URLs of remote `vllm serve` replicas (openai)."
    )
    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="Where the tiny model is built and kept."
    )
    dtype: str = Field("auto", description="Engine dtype (auto, bfloat16, float16, float32).")
    max_model_len: int | None = Field(None, description="Context length; unset: the model's.")
    max_images_per_prompt: int = Field(64, ge=1, description="vLLM limit_mm_per_prompt image.")
    enable_prefix_caching: bool = Field(True, description="Reuse earlier pages' KV blocks.")
    mm_processor_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Passed to the model's multimodal processor."
    )
    tensor_parallel_size: int = Field(
        1, ge=1, description="GPUs one engine spans (tensor parallel)."
    )
    pipeline_parallel_size: int = Field(1, ge=1, description="Pipeline stages (GPUs/nodes).")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="GPU memory share for vLLM.")
    enforce_eager: bool = Field(False, description="Skip CUDA graphs / torch.compile.")
    max_num_seqs: int | None = Field(
        None, ge=1, description="Sequences batched at once; unset: vLLM's."
    )
    vllm_args: str = Field(
        "",
        description="More vLLM engine flags, as for `vllm serve` (vLLM's parser checks them).",
    )
    allow_untested_vllm: bool = Field(
        False,
        description="Start with a vLLM other than the tested release (a warning, not an error).",
    )

    # --- loop defaults (a request's `vtc` object overrides them) ---
    max_rounds: int = Field(
        8, ge=1, le=64, description="Rounds per request at most (3 with the tiny model)."
    )
    round_max_tokens: int = Field(
        8192, ge=1, description="New tokens per round at most (256 with the tiny model)."
    )
    image_order: ImageOrder = Field(
        "images_first", description="Pages before or after the question."
    )
    system_prompt: str = Field(VTC_SYSTEM_PROMPT, description="System prompt of every round.")
    temperature: float = Field(0.6, ge=0, le=2, description="Default sampling temperature.")
    top_p: float = Field(0.95, gt=0, le=1, description="Default nucleus sampling top_p.")
    max_pages_per_round: int = Field(32, ge=1, description="Pages one round may render.")

    # --- input limits ---
    max_body_bytes: int = Field(32 << 20, ge=1024, description="Request body size (413 above).")
    max_messages: int = Field(256, ge=1, description="Messages per request.")
    max_text_chars: int = Field(1 << 20, ge=1, description="Characters of text per request.")
    max_input_images: int = Field(16, ge=0, description="Images a request may carry.")
    max_image_bytes: int = Field(16 << 20, ge=1, description="Encoded size of one input image.")
    max_image_pixels: int = Field(
        6144 * 6144, ge=1, description="Pixels of one input image (decompression bombs refused)."
    )
    max_tokens_limit: int = Field(
        65536, ge=1, description="Largest `max_tokens` a request may ask for (400 above)."
    )
    max_rounds_limit: int = Field(
        64, ge=1, le=64, description="Largest `vtc.max_rounds` a request may ask for."
    )
    round_max_tokens_limit: int = Field(
        32768, ge=1, description="Largest `vtc.round_max_tokens` a request may ask for."
    )

    # --- admission and deadlines ---
    max_concurrent_requests: int = Field(
        64, ge=1, description="Requests running at once; more wait in the queue."
    )
    max_queued_requests: int = Field(
        256, ge=0, description="Requests waiting for a slot; more get 429 at once."
    )
    queue_timeout_s: float = Field(
        30.0, gt=0, description="Longest wait in the queue before a 429."
    )
    request_timeout_s: float = Field(
        1800.0, gt=0, description="Wall time of one request over all rounds (then 504/in-band)."
    )
    engine_health_interval_s: float = Field(
        10.0, ge=0, description="Engine health-check period (0: off); a dead engine exits 1."
    )

    # --- auth ---
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="API keys (`--api-key`, repeatable or comma list); none: no auth.",
    )
    api_key_file: Path | None = Field(
        None, description="File with one API key per line (# comments), added to the keys."
    )
    metrics_auth: bool = Field(False, description="Require an API key for /metrics too.")

    # --- image sources (data: URLs are always accepted) ---
    allow_remote_images: bool = Field(
        False, description="Fetch http(s) image URLs from `remote_image_hosts`."
    )
    remote_image_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Hosts remote images may come from (`*.example.com` for subdomains).",
    )
    remote_image_timeout_s: float = Field(
        10.0, gt=0, description="Time limit for fetching one remote image."
    )
    media_dir: Path | None = Field(
        None, description="Directory `file:` image URLs may read from; unset: file: refused."
    )
    unsafe_allow_loopback_images: bool = Field(
        False, description="TESTS ONLY: let remote image URLs reach loopback addresses."
    )

    # --- HTTP ---
    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 in containers).")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    reasoning_fields: ReasoningFields = Field(
        "both", description="Which message field(s) carry the reasoning."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="JSON logs at this level and above."
    )
    shutdown_grace_s: float = Field(30.0, ge=0, description="Drain time for streams on SIGTERM.")
    workers: int = Field(
        1,
        ge=1,
        description="Gateway processes sharing the port (engine openai); limits are per worker.",
    )
    playground: bool = Field(
        True, description="Serve the browser playground at `/` (`--no-playground`: off)."
    )

    # --- CORS (vLLM's flags and defaults; lists as JSON `["a","b"]`, as vLLM takes them, or a,b)
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins browsers may call from (`*`: any); empty: cross-origin access off.",
    )
    allowed_methods: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Methods allowed cross-origin (CORS)."
    )
    allowed_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"], description="Request headers allowed cross-origin (CORS)."
    )
    allow_credentials: bool = Field(
        False, description="Let cross-origin requests carry cookies and credentials (CORS)."
    )

    @model_validator(mode="after")
    def _demo_defaults_for_the_tiny_model(self) -> Settings:
        if self.model is None:
            for name, value in TINY_MODEL_DEFAULTS.items():
                if name not in self.model_fields_set:
                    setattr(self, name, value)
        return self

    @field_validator(
        "backend_urls",
        "remote_image_hosts",
        "api_keys",
        "allowed_origins",
        "allowed_methods",
        "allowed_headers",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [u.strip() for u in value.split(",") if u.strip()]
        return value
