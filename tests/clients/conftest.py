"""A fake OpenAI-compatible VTC server per test, over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clients.fake_server import FakeState, create_fake_app, serve

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "benchmarks"


@dataclass
class Fake:
    url: str
    state: FakeState


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = FakeState()
    with serve(create_fake_app(state)) as url:
        yield Fake(url, state)
