"""The sweep: every concurrency level, every mode at each, a closed loop of N requests per level.

Modes alternate their order from level to level (vtc then baseline, then baseline then vtc), so
a slow drift of the machine does not favour one. The run is bounded: N requests per mode and
level, each cut off at the timeout, and none starts after the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import openai

from clients.bench.report import summarize
from clients.bench.timing import Sampling, one_request
from clients.console import progress
from clients.pool import closed_loop


@dataclass(frozen=True)
class SweepPlan:
    modes: Sequence[str]
    concurrency: Sequence[int]  # the levels, in the order they run
    requests: int  # per mode and level
    prompts: Sequence[str]  # request i sends prompts[i % len(prompts)]
    sampling: Sampling
    timeout: float  # seconds one request may take
    deadline: float  # time.monotonic() after which no request starts


async def warm_up(client: openai.AsyncOpenAI, model: str, plan: SweepPlan, per_mode: int) -> None:
    """Unrecorded requests per mode first, so the first level does not pay for cold caches."""
    for mode in plan.modes:
        for i in range(max(0, per_mode)):
            prompt = plan.prompts[i % len(plan.prompts)]
            await one_request(client, model, prompt, mode, plan.sampling, plan.timeout)


async def run_level(
    client: openai.AsyncOpenAI,
    model: str,
    plan: SweepPlan,
    *,
    mode: str,
    concurrency: int,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """N requests with exactly `concurrency` in flight; returns the records and the wall time."""
    records: list[dict[str, Any]] = []

    async def send(index: int, _: int) -> None:
        prompt_index = index % len(plan.prompts)
        prompt = plan.prompts[prompt_index]
        record = await one_request(client, model, prompt, mode, plan.sampling, plan.timeout)
        record.update(concurrency=concurrency, index=index, prompt_index=prompt_index)
        records.append(record)
        if on_done is not None:
            on_done(record)

    start = time.perf_counter()
    await closed_loop(
        range(plan.requests), concurrency, send, go_on=lambda: time.monotonic() < plan.deadline
    )
    wall = time.perf_counter() - start
    records.sort(key=lambda r: r["index"])
    return records, wall


async def sweep(
    client: openai.AsyncOpenAI, model: str, plan: SweepPlan, *, show_progress: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every level in turn; returns the levels' summaries (in the order run) and every record."""
    levels: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    total = len(plan.modes) * len(plan.concurrency) * plan.requests
    with progress(total, unit="req", enabled=show_progress) as bar:
        for conc in plan.concurrency:
            modes = plan.modes if len(levels) % 2 == 0 else list(reversed(plan.modes))
            for mode in modes:
                bar.set_description(f"{mode} c={conc}")
                records, wall = await run_level(
                    client,
                    model,
                    plan,
                    mode=mode,
                    concurrency=conc,
                    on_done=lambda _r: bar.update(1),
                )
                requests.extend(records)
                level = summarize(records, wall, mode=mode, concurrency=conc)
                level["skipped"] = plan.requests - len(records)
                levels.append(level)
    return levels, requests
