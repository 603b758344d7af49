"""An idle server already exports every `vtcr1_` series at 0 (issue 12, point 7): dashboards,
alerts and `rate()` need the series to exist before the first request. The labels are known up
front except the model's name, which is known once the engine is (or from
`--served-model-name`, before it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from server.api.app import create_app
from server.engines.base import Engine
from server.metrics import MODES, REQUEST_STATUSES, Metrics
from server.settings import Settings
from tests.support.scripted import MODEL, RoundEngine

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
_BY_MODE = {
    "vtcr1_request_latency_seconds",
    "vtcr1_time_to_first_token_seconds",
    "vtcr1_round_latency_seconds",
    "vtcr1_rounds_per_request",
}


def series(text: str) -> Series:
    """Every `vtcr1_` sample of an exposition, keyed by name and labels."""
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("vtcr1_"):
                out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def expected_at_zero(model: str) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    """The samples that must exist at 0 for `model`: requests by mode and status, in flight,
    every counter, and every histogram's `_count` and `_sum`."""
    out: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    for family in Metrics().registry.collect():
        labels = [
            {"model": model, "mode": mode, "status": status}
            for mode in MODES
            for status in REQUEST_STATUSES
        ]
        by_mode = [{"model": model, "mode": mode} for mode in MODES]
        names = {
            "counter": [family.name + "_total"],
            "gauge": [family.name],
            "histogram": [family.name + "_count", family.name + "_sum"],
        }[family.type]
        if family.name == "vtcr1_requests":
            chosen = labels
        elif family.type == "histogram" and family.name in _BY_MODE:
            chosen = by_mode
        else:
            chosen = [{"model": model}]
        out |= {(n, frozenset(lab.items())) for n in names for lab in chosen}
    return out


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


class HeldFactory:
    """An engine factory that returns its engine only once `release` is set: an engine
    that is still loading."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, settings: Settings) -> Engine:
        await self.release.wait()
        return RoundEngine(1)


def test_the_expected_set_is_complete() -> None:
    # 10 request series (2 modes x 5 statuses), 1 gauge, 8 counters, 8 histograms x 2 samples
    # with 4 of them per mode: the check below can only pass if all of them are there.
    assert len(expected_at_zero("m")) == 10 + 1 + 8 + 2 * (4 + 4 * 2)


async def test_a_fresh_app_exports_every_series_at_zero() -> None:
    app = create_app(Settings(), engine=RoundEngine(1))
    async with running(app) as client:
        text = (await client.get("/metrics")).text
    found = series(text)
    expected = expected_at_zero(MODEL)
    missing = expected - set(found)
    assert not missing, sorted(missing)
    assert all(found[key] == 0 for key in expected)


async def test_served_model_name_is_known_before_the_engine_loads() -> None:
    factory = HeldFactory()
    app = create_app(Settings(served_model_name="served"), engine_factory=factory)
    async with running(app) as client:
        ready = await client.get("/ready")
        found = series((await client.get("/metrics")).text)
        factory.release.set()
    assert ready.status_code == 503  # still loading
    assert expected_at_zero("served") <= set(found)


async def test_without_a_served_name_the_series_appear_when_the_engine_loads() -> None:
    factory = HeldFactory()
    app = create_app(Settings(), engine_factory=factory)
    async with running(app) as client:
        before = series((await client.get("/metrics")).text)
        factory.release.set()
        async with asyncio.timeout(30):
            await app.state.vtc.loaded.wait()
        after = series((await client.get("/metrics")).text)
    assert not any(name == "vtcr1_requests_total" for name, _ in before)
    assert expected_at_zero(MODEL) <= set(after)
