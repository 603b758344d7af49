"""The dashboard's PromQL: extraction, Grafana-variable substitution, and the metric-name check."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.deploy.tools import DASHBOARD

# The gateway's metrics (fixed names; see docs/deployment.md "Metrics reference").
GATEWAY_HISTOGRAMS = frozenset(
    {
        "vtcr1_request_latency_seconds",
        "vtcr1_time_to_first_token_seconds",
        "vtcr1_round_latency_seconds",
        "vtcr1_render_seconds",
        "vtcr1_rounds_per_request",
        "vtcr1_compression_ratio",
        "vtcr1_inter_round_gap_seconds",
        "vtcr1_input_compression_ratio",
    }
)
GATEWAY_COUNTERS = frozenset(
    {
        "vtcr1_requests_total",
        "vtcr1_rendered_pages_total",
        "vtcr1_reasoning_tokens_total",
        "vtcr1_vision_tokens_total",
        "vtcr1_prompt_tokens_total",
        "vtcr1_generated_tokens_total",
        "vtcr1_input_pages_total",
        "vtcr1_input_text_tokens_total",
        "vtcr1_input_vision_tokens_total",
    }
)
GATEWAY_GAUGES = frozenset({"vtcr1_requests_in_flight"})
GATEWAY_LABELS = frozenset({"model", "mode", "status"})

# vLLM's metrics the dashboard and alerts use, as of vLLM 0.32 (v1/metrics/loggers.py). When the
# vLLM source is installed, `vllm_metric_families()` reads the names from it instead.
VLLM_FALLBACK = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:prefix_cache_queries": "counter",
    "vllm:prefix_cache_hits": "counter",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:time_to_first_token_seconds": "histogram",
}
VLLM_LABELS = frozenset({"model_name", "engine"})
# Labels Prometheus itself attaches (target, service discovery, histogram buckets).
SCRAPE_LABELS = frozenset({"le", "instance", "job", "service", "namespace", "pod"})

_FAMILY = re.compile(r"_(counter|gauge|histogram)_cls\(\s*name=\"(vllm:[a-z0-9_]+)\"")


def vllm_metric_families() -> dict[str, str]:
    """Metric family -> type, read from the installed vLLM's source (no import of vLLM)."""
    try:
        spec = importlib.util.find_spec("vllm")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return dict(VLLM_FALLBACK)
    metrics_dir = Path(next(iter(spec.submodule_search_locations))) / "v1" / "metrics"
    families: dict[str, str] = {}
    for source in metrics_dir.glob("*.py"):
        for kind, name in _FAMILY.findall(source.read_text(encoding="utf-8")):
            families[name] = kind
    return families or dict(VLLM_FALLBACK)


def exposed_names(families: dict[str, str]) -> set[str]:
    """Series names as scraped: counters get `_total`, histograms `_bucket/_sum/_count`."""
    names: set[str] = set()
    for family, kind in families.items():
        if kind == "counter":
            names.add(family if family.endswith("_total") else family + "_total")
        elif kind == "histogram":
            names.update(family + suffix for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family)
    return names


def gateway_families() -> dict[str, str]:
    families = {name: "histogram" for name in GATEWAY_HISTOGRAMS}
    families.update({name: "counter" for name in GATEWAY_COUNTERS})
    families.update({name: "gauge" for name in GATEWAY_GAUGES})
    return families


def known_series() -> set[str]:
    return exposed_names(gateway_families()) | exposed_names(vllm_metric_families())


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref_id: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.panel} [{self.ref_id}]"


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # rows


def panel_queries(dashboard: dict[str, Any]) -> list[PanelQuery]:
    return [
        PanelQuery(panel["title"], target["refId"], target["expr"])
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


# What Grafana substitutes; the live test evaluates the queries with these values.
GRAFANA_VARIABLES = {
    "$__rate_interval": "30s",
    "$model": ".*",
}


def substitute(expr: str, variables: dict[str, str] = GRAFANA_VARIABLES) -> str:
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(name, variables[name])
    if "$" in expr:
        raise ValueError(f"unsubstituted Grafana variable in {expr!r}")
    return expr


# --- a small PromQL scanner: enough to list the metric names and labels a query uses ------------

PROMQL_FUNCTIONS = frozenset(
    {
        "abs", "absent", "avg", "avg_over_time", "ceil", "clamp_max", "clamp_min", "count",
        "delta", "deriv", "floor", "histogram_quantile", "increase", "irate", "label_replace",
        "max", "max_over_time", "min", "min_over_time", "quantile", "rate", "round", "scalar",
        "sort", "sort_desc", "sum", "sum_over_time", "time", "topk", "bottomk", "vector",
    }
)  # fmt: skip
PROMQL_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
     "offset", "bool"}
)  # fmt: skip

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{([^}]*)\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])\d+(\.\d+)?(e[+-]?\d+)?")


@dataclass(frozen=True)
class QueryNames:
    metrics: frozenset[str]
    labels: frozenset[str]
    functions: frozenset[str]


def scan(expr: str) -> QueryNames:
    """Metric names, label names and functions used by a PromQL expression."""
    labels: set[str] = set()
    text = _STRING.sub('""', expr)
    for body in _MATCHERS.findall(text):
        for matcher in body.split(","):
            if matcher.strip():
                labels.add(re.split(r"=~|!~|!=|=", matcher, maxsplit=1)[0].strip())
    text = _MATCHERS.sub(" ", text)
    for _, body in _GROUPING.findall(text):
        labels.update(part.strip() for part in body.split(",") if part.strip())
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    metrics: set[str] = set()
    functions: set[str] = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        following = text[match.end() :].lstrip()[:1]
        if word in PROMQL_KEYWORDS:
            continue
        if following == "(":
            functions.add(word)
        else:
            metrics.add(word)
    return QueryNames(frozenset(metrics), frozenset(labels), frozenset(functions))
