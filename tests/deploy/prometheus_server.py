"""A real Prometheus (Debian package `prometheus`) on loopback, scraping one target, for tests."""

from __future__ import annotations

import math
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from tests.deploy.tools import PROMETHEUS_DIR, tool


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Prometheus:
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {response.status_code} {body}")
        assert body["data"]["resultType"] == "vector", body["data"]["resultType"]
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def finite_values(self, expr: str) -> list[float]:
        return [
            float(sample["value"][1])
            for sample in self.query(expr)
            if math.isfinite(float(sample["value"][1]))
        ]

    def target_health(self) -> list[str]:
        body = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()
        return [t["health"] for t in body["data"]["activeTargets"]]


@contextmanager
def prometheus(
    target_base_url: str,
    workdir: Path,
    *,
    job: str = "vtcr1-gateway",
    scrape_interval: str = "1s",
    start_timeout: float = 30,
) -> Iterator[Prometheus]:
    """Starts Prometheus scraping `target_base_url`/metrics with the project's alerting rules."""
    target = urlsplit(target_base_url).netloc
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alerts.yml").write_text(
        (PROMETHEUS_DIR / "alerts.yml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {"job_name": job, "scrape_timeout": scrape_interval,
             "static_configs": [{"targets": [target]}]},
        ],
    }  # fmt: skip
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.console.templates=" + str(workdir),
                "--web.console.libraries=" + str(workdir),
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited {proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready in {start_timeout}s:\n{log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
