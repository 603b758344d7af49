"""Every `vllm serve` the deployment starts gets the flags the gateway's remote engine relies on,
the same ones as the project's own tested replica (`tests.support.vllm_process.serve_args`)."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from tests.deploy.test_compose import compose_config
from tests.deploy.test_k8s import env_of, objects
from tests.support.vllm_process import serve_args


def flags(argv: list[str]) -> dict[str, str]:
    """`--name=value`, `--name value` or bare `--name` (-> "") from an argv list."""
    parsed: dict[str, str] = {}
    for i, token in enumerate(argv):
        if not token.startswith("--"):
            continue
        name, eq, value = token[2:].partition("=")
        if not eq and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            value = argv[i + 1]
        parsed[name] = value
    return parsed


def script_flags(script: str) -> dict[str, str]:
    """The flags of the `vllm serve` a container's shell script execs."""
    start = script.index("vllm serve")
    return flags(shlex.split(script[start:]))


def project_replica_flags() -> dict[str, str]:
    reference = flags(serve_args("MODEL", port=1, max_images_per_prompt=7))
    return {
        name: value
        for name, value in reference.items()
        if name in {"enable-prefix-caching", "enable-prompt-tokens-details", "limit-mm-per-prompt"}
    }


def engines() -> dict[str, tuple[dict[str, str], str]]:
    """Each deployed `vllm serve`: its flags and the gateway's VTCR1_MAX_IMAGES_PER_PROMPT."""
    found: dict[str, tuple[dict[str, str], str]] = {}
    services = compose_config("gpu")["services"]
    found["compose"] = (
        flags(services["vllm"]["command"]),
        services["gateway"]["environment"]["VTCR1_MAX_IMAGES_PER_PROMPT"],
    )
    for overlay in ("base", "replicas", "large-model"):
        gateway: dict[str, Any] = objects(overlay, "Deployment")["vtcr1-gateway"]
        images = env_of(gateway["spec"]["template"]["spec"]["containers"][0])[
            "VTCR1_MAX_IMAGES_PER_PROMPT"
        ]
        for sts in objects(overlay, "StatefulSet").values():
            (container,) = sts["spec"]["template"]["spec"]["containers"]
            found[f"{overlay}/statefulset"] = (flags(container["args"]), images)
        for lws in objects(overlay, "LeaderWorkerSet").values():
            (leader,) = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"]
            found[f"{overlay}/leaderworkerset"] = (script_flags(leader["args"][0]), images)
    return found


def test_flag_parser() -> None:
    parsed = flags(["serve", "m", "--port=8000", "--enable-prefix-caching", "--dtype", "bf16"])
    assert parsed == {"port": "8000", "enable-prefix-caching": "", "dtype": "bf16"}
    script = "ray start\nexec vllm serve m \\\n  --limit-mm-per-prompt='{\"image\": 64}' \\\n  --x"
    assert script_flags(script) == {"limit-mm-per-prompt": '{"image": 64}', "x": ""}


ENGINES = ["compose", "base/statefulset", "replicas/statefulset", "large-model/leaderworkerset"]


def test_every_engine_is_checked() -> None:
    assert sorted(engines()) == sorted(ENGINES)


@pytest.mark.parametrize("where", ENGINES)
def test_engine_has_the_replica_flags(where: str) -> None:
    engine_flags, gateway_images = engines()[where]
    reference = project_replica_flags()
    for name in ("enable-prefix-caching", "enable-prompt-tokens-details"):
        assert name in reference and name in engine_flags, (where, name)
    limits = json.loads(engine_flags["limit-mm-per-prompt"])
    reference_limits = json.loads(reference["limit-mm-per-prompt"])
    assert set(limits) == set(reference_limits), where
    assert limits["video"] == reference_limits["video"] == 0
    assert limits["image"] == int(gateway_images), f"{where}: gateway and engine image limits"
    assert engine_flags.get("max-model-len"), where
