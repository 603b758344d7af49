"""Prometheus config and alerting rules: promtool checks, rule unit tests, names, k8s copy."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.promql import known_series, scan
from tests.deploy.tools import K8S, PROMETHEUS_DIR, run, tool

ALERTS = PROMETHEUS_DIR / "alerts.yml"
REQUIRED_ALERTS = {
    "VTCR1HighErrorRate",
    "VTCR1HighLatency",
    "VTCR1GatewayDown",
    "VTCR1EngineDown",
    "VTCR1EngineMetricsAbsent",
}


def rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_check_config() -> None:
    out = run([tool("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")])
    assert "SUCCESS" in out and "1 rule files found" in out


def test_promtool_check_rules() -> None:
    out = run([tool("promtool"), "check", "rules", str(ALERTS)])
    assert f"SUCCESS: {len(rules())} rules found" in out


def test_promtool_rejects_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: sum(rate(x[5m])\n")
    proc = subprocess.run(
        [tool("promtool"), "check", "rules", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0


def test_alert_rules_unit_tests() -> None:
    """deploy/prometheus/alerts.test.yml: each alert fires (or not) on synthetic series."""
    out = run([tool("promtool"), "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS_DIR)
    assert "SUCCESS" in out
    tested = {
        item["alertname"]
        for case in yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
        for item in case.get("alert_rule_test", [])
        if item.get("exp_alerts")
    }
    assert tested == {str(r["alert"]) for r in rules()}, "every alert needs a firing test"


def test_required_alerts_exist_with_severity_and_description() -> None:
    names = {str(r["alert"]) for r in rules()}
    assert names >= REQUIRED_ALERTS, REQUIRED_ALERTS - names
    for rule in rules():
        labels, annotations = rule["labels"], rule["annotations"]
        assert isinstance(labels, dict) and labels["severity"] in ("warning", "critical")
        assert isinstance(annotations, dict)
        assert annotations["summary"] and annotations["description"]


def test_alert_expressions_use_known_metrics() -> None:
    known = known_series() | {"up"}
    for rule in rules():
        names = scan(str(rule["expr"]))
        assert names.metrics, rule["alert"]
        assert names.metrics <= known, (rule["alert"], names.metrics - known)


def test_scrape_jobs_match_the_alerts() -> None:
    """The rules select `job="vtcr1-gateway"` / `job="vtcr1-vllm"`: compose's job names, and on
    Kubernetes the ServiceMonitors' jobLabel (the Services' app.kubernetes.io/name)."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert {"vtcr1-gateway", "vtcr1-vllm"} <= jobs
    exprs = " ".join(str(r["expr"]) for r in rules())
    assert 'job="vtcr1-gateway"' in exprs and 'job="vtcr1-vllm"' in exprs


def test_prometheusrule_is_the_same_rules() -> None:
    rule = yaml.safe_load((K8S / "base" / "prometheusrule.yaml").read_text())
    assert rule["kind"] == "PrometheusRule"
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]


def test_prometheus_adapter_serves_the_hpa_metric() -> None:
    values = yaml.safe_load((K8S / "prometheus-adapter" / "values.yaml").read_text())
    hpa = yaml.safe_load((K8S / "base" / "gateway-hpa.yaml").read_text())
    (metric,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]  # CPU: metrics-server
    name = metric["pods"]["metric"]["name"]
    exposed = {rule["name"]["as"] for rule in values["rules"]["custom"]}
    assert name in exposed
    assert name in known_series()
