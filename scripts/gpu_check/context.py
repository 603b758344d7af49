"""What the steps of one run share: its options, where it writes, what it started."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from server.engines.platforms import Kind, TinyEngineProfile, tiny_engine_profile

SERVED_NAME = "vtcr1-tiny"


@dataclass
class Run:
    out: Path
    cache_dir: Path
    quick: bool
    kind: Kind | None
    model: str | None = None  # a local copy of the real checkpoint (--model)
    upstream_url: str | None = None  # an existing `vllm serve` of the tiny model
    tiny_dir: Path | None = None
    replica_url: str | None = None
    gateway_url: str | None = None
    served_name: str = SERVED_NAME
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    @property
    def profile(self) -> TinyEngineProfile:
        return tiny_engine_profile(self.kind)

    @property
    def on_gpu(self) -> bool:
        return self.kind == "cuda"

    def log(self, name: str) -> Path:
        logs = self.out / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        return logs / name

    def need_tiny(self) -> Path:
        if self.tiny_dir is None:
            raise RuntimeError("the tiny-model step did not run")
        return self.tiny_dir
