"""The Grafana dashboard: well-formed JSON, and PromQL that uses only metrics that exist."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.deploy.promql import (
    GATEWAY_LABELS,
    PROMQL_FUNCTIONS,
    SCRAPE_LABELS,
    VLLM_LABELS,
    PanelQuery,
    gateway_families,
    known_series,
    load_dashboard,
    panel_queries,
    scan,
    substitute,
    vllm_metric_families,
)
from tests.deploy.tools import DASHBOARD, DEPLOY

# What the issue asks the dashboard to show: a panel title (lower case) containing each phrase.
REQUIRED_PANELS = (
    "request rate",
    "error",
    "end-to-end latency",
    "time to first token",
    "rounds per request",
    "compression ratio",
    "vision vs reasoning tokens",
    "pages per second",
    "render time",
    "inter-round gap",
    "requests in flight",
    "kv-cache usage",
    "prefix-cache hit rate",
)


def test_dashboard_is_well_formed() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "duplicate panel ids"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
    # No two panels overlap on Grafana's 24-column grid.
    cells = [
        (p["gridPos"]["x"] + dx, p["gridPos"]["y"] + dy)
        for p in panels
        for dx in range(p["gridPos"]["w"])
        for dy in range(p["gridPos"]["h"])
    ]
    assert len(cells) == len(set(cells)), "overlapping panels"


def test_dashboard_has_the_required_panels() -> None:
    titles = [p["title"].lower() for p in load_dashboard()["panels"]]
    missing = [phrase for phrase in REQUIRED_PANELS if not any(phrase in t for t in titles)]
    assert not missing, f"no panel for: {missing}"


def test_latency_panels_show_p50_p95_p99() -> None:
    for panel in load_dashboard()["panels"]:
        if panel["title"] in ("End-to-end latency", "Time to first token"):
            exprs = " ".join(t["expr"] for t in panel["targets"])
            for quantile in ("0.5,", "0.95,", "0.99,"):
                assert f"histogram_quantile({quantile}" in exprs, (panel["title"], quantile)


@pytest.mark.parametrize("query", panel_queries(load_dashboard()), ids=lambda q: q.name)
def test_panel_queries_use_only_known_metrics_and_labels(query: PanelQuery) -> None:
    names = scan(substitute(query.expr))
    assert names.metrics, f"{query.name}: no metric in {query.expr!r}"
    unknown = names.metrics - known_series()
    assert not unknown, f"{query.name}: unknown metric(s) {sorted(unknown)}"
    assert names.functions <= PROMQL_FUNCTIONS, names.functions - PROMQL_FUNCTIONS
    allowed = SCRAPE_LABELS | (
        GATEWAY_LABELS if any(m.startswith("vtcr1_") for m in names.metrics) else VLLM_LABELS
    )
    assert names.labels <= allowed, f"{query.name}: unknown label(s) {names.labels - allowed}"


def test_the_metric_name_check_can_fail() -> None:
    """The scanner sees metric names, typos included, and ignores labels and functions."""
    names = scan('sum by (status) (rate(vtcr1_request_total{model=~".*"}[5m]))')
    assert names.metrics == {"vtcr1_request_total"}
    assert names.metrics - known_series() == {"vtcr1_request_total"}
    assert names.labels == {"status", "model"}
    assert scan("vllm:prefix_cache_hits / vllm:prefix_cache_queries_total").metrics - (
        known_series()
    ) == {"vllm:prefix_cache_hits"}  # a counter without `_total` is not scraped


def test_vllm_names_come_from_the_installed_vllm() -> None:
    families = vllm_metric_families()
    for family, kind in {
        "vllm:kv_cache_usage_perc": "gauge",
        "vllm:prefix_cache_hits": "counter",
        "vllm:prefix_cache_queries": "counter",
        "vllm:num_requests_running": "gauge",
        "vllm:e2e_request_latency_seconds": "histogram",
    }.items():
        assert families.get(family) == kind, family


def test_every_gateway_metric_is_on_the_dashboard() -> None:
    used = set().union(*(scan(substitute(q.expr)).metrics for q in panel_queries(load_dashboard())))
    for family, kind in gateway_families().items():
        series = family + "_bucket" if kind == "histogram" else family
        assert any(name == series for name in used), f"{family} is not on the dashboard"


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["uid"] == "prometheus"
    dashboard = load_dashboard()
    current = next(v for v in dashboard["templating"]["list"] if v["name"] == "datasource")
    assert current["current"]["value"] == source["uid"]
    providers = yaml.safe_load((provisioning / "dashboards" / "vtcr1.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    json.loads(DASHBOARD.read_text())  # the file the provider loads parses as JSON
