"""The capacity table (stdout), `capacity.json` and `capacity.png`."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from capacity_parts.analysis import KNEE_ITL_P99_MS

SHARED_CORES = (
    "upstream, client and proxy share this machine's {cores} cores: tokens/s and latencies "
    "are this machine's, CPU us per relayed token is the figure that carries over"
)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_avg": os.getloadavg(),
    }


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


HEADER = (
    f"{'S':>4} {'path':<11} {'tok/s':>7} {'proxy':>6} {'proxy':>7} {'ITL+ ms':>13} "
    f"{'delay ms':>13} {'TTFT+':>6} {'gap':>6} {'err':>4} {'client':>7} {'upstr':>6}"
)
SUBHEADER = (
    f"{'':>4} {'':<11} {'':>7} {'cores':>6} {'us/tok':>7} {'p50 / p99':>13} "
    f"{'p50 / p99':>13} {'p50ms':>6} {'p50ms':>6} {'':>4} {'us/tok':>7} {'us/tok':>6}"
)


def row_line(row: dict[str, Any]) -> str:
    cpu = row["cpu"]
    proxy = cpu.get("proxy", {})
    itl = f"{_fmt(row['itl_added_p50_ms'], '.2f')} / {_fmt(row['itl_added_p99_ms'])}"
    delay = f"{_fmt(row['delay_p50_ms'], '.2f')} / {_fmt(row['delay_p99_ms'])}"
    mark = " <- past the knee" if row.get("past_knee") else ""
    return (
        f"{row['concurrency']:>4} {row['path']:<11} {row['tokens_per_s']:>7.0f} "
        f"{_fmt(proxy.get('cores'), '.2f'):>6} {_fmt(proxy.get('us_per_token')):>7} {itl:>13} "
        f"{delay:>13} {_fmt(row['ttft_added_p50_ms']):>6} {_fmt(row['gap_p50_ms']):>6} "
        f"{row['errors']:>4} {_fmt(cpu.get('client', {}).get('us_per_token')):>7} "
        f"{_fmt(cpu.get('upstream', {}).get('us_per_token')):>6}{mark}"
    )


def print_header(cores: int | None) -> None:
    print(SHARED_CORES.format(cores=cores))
    print(HEADER)
    print(SUBHEADER)


def headline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per path: the knee (first S past it, or None), and the proxy's CPU per relayed token at
    the largest S before it (the figure issue 14's goal is about)."""
    out: dict[str, Any] = {}
    for path in dict.fromkeys(r["path"] for r in rows):
        mine = [r for r in rows if r["path"] == path]
        knee = next((r["concurrency"] for r in mine if r["past_knee"]), None)
        good = [r for r in mine if not r["past_knee"]]
        last = good[-1] if good else None
        proxy = (last or {}).get("cpu", {}).get("proxy", {})
        out[path] = {
            "knee_concurrency": knee,
            "last_good_concurrency": last and last["concurrency"],
            "tokens_per_s_at_last_good": last and last["tokens_per_s"],
            "proxy_us_per_token_at_last_good": proxy.get("us_per_token"),
            "proxy_cores_at_last_good": proxy.get("cores"),
        }
    return out


def print_headline(summary: dict[str, Any]) -> None:
    print(
        f"\nknee: added p99 inter-token latency > {KNEE_ITL_P99_MS:g} ms (> {KNEE_ITL_P99_MS:g} ms"
        " above direct's where direct's own passes it: a machine busy with other work)"
        " or any error"
    )
    for path, h in summary.items():
        knee = h["knee_concurrency"]
        where = f"knee at S={knee}" if knee else "no knee in the S tried"
        us = h["proxy_us_per_token_at_last_good"]
        cpu = "" if us is None else f", proxy CPU {us:.1f} us per relayed token"
        print(f"  {path:<11} {where}; last good S={h['last_good_concurrency']}{cpu}")
    gateway, litellm = summary.get("gateway", {}), summary.get("litellm", {})
    ours, theirs = (
        gateway.get("proxy_us_per_token_at_last_good"),
        litellm.get("proxy_us_per_token_at_last_good"),
    )
    if ours and theirs:
        print(f"  LiteLLM / gateway CPU per token: {theirs / ours:.2f}x")


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.write_text(json.dumps(payload, indent=1, default=float))


def plot(path: Path, rows: list[dict[str, Any]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    panels = (
        ("relayed tokens/s", lambda r: r["tokens_per_s"]),
        (
            "proxy CPU, us per relayed token",
            lambda r: r["cpu"].get("proxy", {}).get("us_per_token"),
        ),
        ("added inter-token latency p99 (ms)", lambda r: r["itl_added_p99_ms"]),
    )
    names = list(dict.fromkeys(r["path"] for r in rows))
    colours = {name: f"C{i}" for i, name in enumerate(names)}
    for ax, (label, value) in zip(axes, panels, strict=True):
        for name in names:
            points = [(r["concurrency"], value(r)) for r in rows if r["path"] == name]
            points = [(s, v) for s, v in points if v is not None]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=name, color=colours[name])
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent VTC requests (S)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[2].axhline(KNEE_ITL_P99_MS, color="grey", linestyle="--", label="knee")
    axes[2].set_yscale("symlog", linthresh=KNEE_ITL_P99_MS)
    axes[0].legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
