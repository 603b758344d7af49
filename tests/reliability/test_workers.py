"""`vtcr1 serve --workers N` (issue 14, point 3), as real processes over real HTTP: the
supervisor and its workers run `python -m server.cli serve` in remote mode against fake
`vllm serve` replicas (tests/support/fake_replicas.py) served from the test's event loop.

Which worker answered is in the `X-Vtcr1-Worker` header (its pid). Every client here opens a
new connection per request, so the kernel hands requests to whichever worker accepts first;
the tests send until every worker has answered (with a hard cap), never sleep to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from uvicorn.config import STARTUP_FAILURE

from server.settings import Settings
from server.workers import Supervisor, bind
from tests.support.fake_replicas import FakeReplicas

ROOT = Path(__file__).resolve().parents[2]
MODEL = "m"
URL = "/v1/chat/completions"
WORKER = "x-vtcr1-worker"
START_TIMEOUT_S = 120.0
MAX_TRIES = 200  # requests sent to reach every worker before the test gives up


def chat(**fields: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": "What is 2 + 3?"}]
    return {"model": MODEL, "messages": messages, "vtc": {"max_rounds": 1}, **fields}


def sample(text: str, name: str, **labels: str) -> float | None:
    """One sample of an exposition (None if absent)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


class Gateway:
    """The supervisor process, its JSON logs (stderr, read continuously so the pipe never
    fills) and a client that opens a new connection per request."""

    def __init__(self, process: asyncio.subprocess.Process, workers: int) -> None:
        self.process = process
        self.workers = workers
        self.logs: list[dict[str, Any]] = []
        self.metrics_dir: Path | None = None
        self.url: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read_logs())
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_keepalive_connections=0), timeout=30
        )

    async def _read_logs(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").strip()
            try:
                entry = json.loads(line)
            except ValueError:
                entry = {"msg": line}
            self.logs.append(entry)
            message = str(entry.get("msg", ""))
            found = re.match(
                r"listening on (http://\S+) with \d+ workers \(metrics in (.+)\)$", message
            )
            if found and not self.url.done():
                self.metrics_dir = Path(found.group(2))
                self.url.set_result(found.group(1))
        if not self.url.done():
            self.url.set_exception(RuntimeError(f"the server exited: {self.logs[-20:]}"))

    async def each_worker(
        self, send: Callable[[], Awaitable[httpx.Response]], *, poll_s: float = 0.0
    ) -> dict[str, httpx.Response]:
        """Send until every worker has answered; the first answer of each, by worker pid."""
        answers: dict[str, httpx.Response] = {}
        for _ in range(MAX_TRIES):
            response = await send()
            answers.setdefault(response.headers[WORKER], response)
            if len(answers) == self.workers:
                return answers
            await asyncio.sleep(poll_s)
        raise AssertionError(f"only workers {sorted(answers)} answered in {MAX_TRIES} requests")

    async def until_ready(self, *, exclude: frozenset[str] = frozenset()) -> set[str]:
        """Poll `/ready` (the workers load their tokenizers) until every worker says 200."""
        base = await self.url
        ready: set[str] = set()
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(ready) < self.workers:
            assert time.monotonic() < deadline, f"workers ready: {ready}; logs {self.logs[-10:]}"
            with contextlib.suppress(httpx.TransportError):
                response = await self.client.get(f"{base}/ready")
                if response.status_code == 200 and response.headers[WORKER] not in exclude:
                    ready.add(response.headers[WORKER])
            await asyncio.sleep(0.05)  # polling interval while the workers load
        return ready

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(f"{await self.url}{path}")

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(f"{await self.url}{path}", json=body)


@contextlib.asynccontextmanager
async def workers_server(
    backend: str, model_dir: Path, *, workers: int = 2, grace_s: float = 20.0
) -> AsyncIterator[Gateway]:
    args = ["serve", "--engine", "openai", "--backend-urls", backend, "--model", str(model_dir)]
    args += ["--served-model-name", MODEL, "--workers", str(workers), "--port", "0"]
    args += ["--shutdown-grace-s", str(grace_s), "--log-level", "info"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        *args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its own process group: the cleanup reaches every worker
    )
    gateway = Gateway(process, workers)
    try:
        async with gateway.client:
            yield gateway
    finally:
        await stop(process)
        await gateway.reader


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the supervisor drains its workers and removes its metrics directory), and
    SIGKILL to the whole process group if that does not end it in time."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), 60)
        return
    os.killpg(process.pid, signal.SIGKILL)  # still running: the group is still ours
    await process.wait()


async def served_by_every_worker(gateway: Gateway) -> Counter[str]:
    """Send non-streaming requests until every worker has served one: how many each served."""
    served: Counter[str] = Counter()
    for _ in range(MAX_TRIES):
        response = await gateway.post(URL, chat())
        assert response.status_code == 200, response.text
        served[response.headers[WORKER]] += 1
        if len(served) == gateway.workers:
            return served
    raise AssertionError(f"only workers {sorted(served)} served in {MAX_TRIES} requests")


async def test_metrics_are_summed_and_each_worker_checks_its_upstream(
    tiny_model_dir: Path,
) -> None:
    async with (
        FakeReplicas({"r0": "ok"}) as fake,
        workers_server(fake.urls["r0"], tiny_model_dir) as gateway,
    ):
        await gateway.until_ready()
        served = await served_by_every_worker(gateway)
        scrapes = await gateway.each_worker(lambda: gateway.get("/metrics"))
        fake.behaviour["r0"] = "down"  # its /health answers 503
        down = await gateway.each_worker(lambda: gateway.get("/ready"))
    assert {r.status_code for r in down.values()} == {503}
    total = sum(served.values())
    assert min(served.values()) < total  # so a worker's own count alone cannot pass
    for worker, scrape in scrapes.items():
        text = scrape.text
        ok = {"model": MODEL, "mode": "vtc", "status": "ok"}
        assert sample(text, "vtcr1_requests_total", **ok) == total, worker
        count = "vtcr1_request_latency_seconds_count"
        assert sample(text, count, model=MODEL, mode="vtc") == total, worker
        # at 0 from the start, in every worker, and summed
        assert sample(text, "vtcr1_requests_total", **{**ok, "status": "error"}) == 0
        assert sample(text, "vtcr1_requests_in_flight", model=MODEL) == 0
        assert sample(text, "process_cpu_seconds_total") is None  # one worker's, left out


async def open_streams_in_every_worker(
    gateway: Gateway, stack: contextlib.AsyncExitStack
) -> list[httpx.Response]:
    """Streams held by the upstream mid-way, until every worker serves at least one."""
    streams: list[httpx.Response] = []
    base = await gateway.url
    for _ in range(MAX_TRIES):
        request = gateway.client.stream("POST", f"{base}{URL}", json=chat(stream=True))
        response = await stack.enter_async_context(request)
        assert response.status_code == 200
        streams.append(response)
        if len({s.headers[WORKER] for s in streams}) == gateway.workers:
            return streams
    raise AssertionError("the streams did not reach every worker")


async def rest_of(response: httpx.Response) -> list[str]:
    return [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]


async def refused(gateway: Gateway) -> bool:
    try:
        await gateway.get("/health")
    except httpx.TransportError:
        return True
    return False


async def test_sigterm_drains_the_streams_of_every_worker(tiny_model_dir: Path) -> None:
    async with (
        FakeReplicas({"r0": "held"}) as fake,
        workers_server(fake.urls["r0"], tiny_model_dir, grace_s=20) as gateway,
        contextlib.AsyncExitStack() as stack,
    ):
        await gateway.until_ready()
        streams = await open_streams_in_every_worker(gateway, stack)
        assert gateway.metrics_dir is not None and gateway.metrics_dir.is_dir()
        assert gateway.metrics_dir.stat().st_mode & 0o077 == 0  # private
        in_flight = sample((await gateway.get("/metrics")).text, "vtcr1_requests_in_flight")
        assert in_flight == len(streams)  # the live workers' gauges, summed
        started = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        deadline = started + 20
        while not await refused(gateway):  # every listener closed, the supervisor's too
            assert time.monotonic() < deadline, "new connections are still accepted"
        fake.release.set()
        rests = [await rest_of(s) for s in streams]
        code = await asyncio.wait_for(gateway.process.wait(), 30)
    assert code == 0 and time.monotonic() - started < 20
    for rest in rests:
        assert rest[-1] == "[DONE]"
        chunks = [json.loads(p) for p in rest[:-1]]
        assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"
    assert any(e.get("msg") == "all workers stopped" for e in gateway.logs)
    assert not gateway.metrics_dir.exists()  # removed at exit


async def test_a_killed_worker_is_replaced_and_leaves_the_in_flight_sum(
    tiny_model_dir: Path,
) -> None:
    async with (
        FakeReplicas({"r0": "ok"}) as fake,
        workers_server(fake.urls["r0"], tiny_model_dir) as gateway,
        contextlib.AsyncExitStack() as stack,
    ):
        first = await gateway.until_ready()
        served = await served_by_every_worker(gateway)
        fake.behaviour["r0"] = "held"
        base = await gateway.url
        request = gateway.client.stream("POST", f"{base}{URL}", json=chat(stream=True))
        held = await stack.enter_async_context(request)
        victim = held.headers[WORKER]
        metrics = (await gateway.get("/metrics")).text
        assert sample(metrics, "vtcr1_requests_in_flight", model=MODEL) == 1
        os.kill(int(victim), signal.SIGKILL)
        with contextlib.suppress(httpx.HTTPError):
            await rest_of(held)
        now = await gateway.until_ready(exclude=frozenset({victim}))
        after = (await gateway.get("/metrics")).text
    assert victim in first and victim not in now and len(now) == 2
    # The dead worker's in-flight share is gone (mark_process_dead), its counts are not.
    assert sample(after, "vtcr1_requests_in_flight", model=MODEL) == 0
    total = sum(served.values())
    assert sample(after, "vtcr1_requests_total", model=MODEL, mode="vtc", status="ok") == total
    assert any("exited with code -9" in str(e.get("msg")) for e in gateway.logs)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_several_workers_are_refused_with_the_in_process_engine() -> None:
    for result in (run_cli("--workers", "2"), run_cli(env={"VTCR1_WORKERS": "3"})):
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "--engine openai" in lines[0] and "vllm serve MODEL --api-server-count" in lines[0]
        assert "api-server-count 2" in lines[0] or "api-server-count 3" in lines[0]


def exits_before_serving(settings: Settings, sock: socket.socket) -> None:
    """A worker target (run in a spawned process) that fails the way a broken start does."""
    sys.exit(STARTUP_FAILURE)


@pytest.mark.timeout(120)  # without the rule it would restart the workers forever
def test_a_worker_that_cannot_start_stops_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vtcr1.workers")
    settings = Settings(engine="openai", workers=2)
    sock = bind("127.0.0.1", 0)
    try:
        supervisor = Supervisor(settings, sock, str(tmp_path), target=exits_before_serving)
        code = supervisor.run()
    finally:
        sock.close()
    assert code == 1
    assert STARTUP_FAILURE in {w.exitcode for w in supervisor.workers}
    started = [r for r in caplog.records if r.getMessage().endswith(" started")]
    assert len(started) == 2  # none restarted
