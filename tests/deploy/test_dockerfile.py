"""The Dockerfile: hadolint clean, and the properties the deployment relies on."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server.settings import Settings
from tests.deploy.tools import ROOT, run, tool

DOCKERFILE = ROOT / "Dockerfile"
FINAL_STAGES = ("gateway", "cpu", "gpu")


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        values = self.all(keyword)
        assert values, f"stage {self.name}: no {keyword}"
        return values[-1]

    def env(self) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for args in self.all("ENV"):
            pairs.update(re.findall(r"(\w+)=(\S+)", args))
        return pairs


def parse(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined; comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest.strip(), re.IGNORECASE)
            assert match, f"every stage is named: {line}"
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], match.group(1))
            stages.append(Stage(match.group(2), base))
        elif keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return args, stages


def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse()[1]}


def test_hadolint_clean() -> None:
    out = run([tool("hadolint"), "--failure-threshold", "info", "-f", "json", str(DOCKERFILE)])
    assert json.loads(out) == []


def test_hadolint_catches_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\nCMD python app.py\n")
    proc = subprocess.run(
        [tool("hadolint"), "-f", "json", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    codes = {finding["code"] for finding in json.loads(proc.stdout)}
    assert {"DL3007", "DL3013", "DL3025"} <= codes, codes


def test_stages_and_default_target() -> None:
    names = [stage.name for stage in parse()[1]]
    assert set(FINAL_STAGES) <= set(names)
    assert names[-1] == "gpu", "`docker build .` must build the GPU image"


def test_base_images_are_pinned() -> None:
    _, all_stages = parse()
    for stage in all_stages:
        if stage.base in {s.name for s in all_stages}:
            continue
        image, _, tag = stage.base.rpartition(":")
        assert image and re.fullmatch(r"v?\d+\.\d+\.\d+[\w.-]*", tag), stage.base
    assert stages()["gpu"].base.startswith("vllm/vllm-openai:v")
    assert stages()["gateway"].base.startswith("python:3.11.")


@pytest.mark.parametrize("name", FINAL_STAGES)
def test_runtime_stage_contract(name: str) -> None:
    stage = stages()[name]
    user = stage.last("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"{name} must run as a numeric non-root user"
    assert stage.last("EXPOSE") == "8000"
    healthcheck = stage.last("HEALTHCHECK")
    assert "/health" in healthcheck and "VTCR1_PORT" in healthcheck
    assert json.loads(stage.last("ENTRYPOINT")) == ["vtcr1", "serve"]
    assert any("fonts-dejavu-core" in run_ for run_ in stage.all("RUN"))
    # Named volumes mounted at ~/.cache take the ownership of the image's directory.
    assert any(f"install -d -o {uid}" in run_ for run_ in stage.all("RUN")), "cache dir owner"
    env = stage.env()
    assert env["VTCR1_HOST"] == "0.0.0.0" and env["VTCR1_PORT"] == "8000"
    fields = {f"VTCR1_{f.upper()}" for f in Settings.model_fields}
    unknown = {key for key in env if key.startswith("VTCR1_")} - fields
    assert not unknown, f"{name}: ENV names no setting reads: {unknown}"


def test_engine_per_stage() -> None:
    all_stages = stages()
    assert all_stages["gateway"].env()["VTCR1_ENGINE"] == "openai"
    assert all_stages["cpu"].env()["VTCR1_ENGINE"] == "vllm"
    assert all_stages["gpu"].env()["VTCR1_ENGINE"] == "vllm"
    gateway_runs = " ".join(all_stages["gateway"].all("RUN")).lower()
    for heavy in ("torch", "vllm", "[cpu]", "[gpu]"):
        assert heavy not in gateway_runs, f"the gateway image must not install {heavy}"
    gpu_runs = " ".join(all_stages["gpu"].all("RUN"))
    assert "--constraint" in gpu_runs and "vllm|torch" in gpu_runs, "keep the image's vLLM/torch"
    assert "[cpu]" in " ".join(all_stages["cpu"].all("RUN"))


def test_dockerignore_keeps_what_the_build_needs() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "**", "allow-list: exclude everything, then re-include"
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    for stage in parse()[1]:
        for copy in stage.all("COPY"):
            if "--from=" not in copy:
                needed |= {src.rstrip("/") for src in copy.split()[:-1]}
    needed.discard("./")
    assert needed <= included, needed - included
    for path in included:
        assert (ROOT / path).exists(), path
