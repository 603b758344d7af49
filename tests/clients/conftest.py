"""A fake OpenAI-compatible VTC server per test, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clients.fake_server import FakeState, create_fake_app, serve


def _benchmark_data() -> Path:
    """`shared/data/benchmarks` in the nearest folder above this checkout that has it: the main
    checkout sits one level below it, a worktree (`wt/<name>`) two."""
    here = Path(__file__).resolve()
    for folder in here.parents:
        candidate = folder / "shared" / "data" / "benchmarks"
        if candidate.is_dir():
            return candidate
    return here.parents[3] / "shared" / "data" / "benchmarks"


DATA = _benchmark_data()


@dataclass
class Fake:
    url: str
    state: FakeState


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = FakeState()
    with serve(create_fake_app(state)) as url:
        yield Fake(url, state)
