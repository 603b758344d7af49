"""PNG plots of a bench run (matplotlib, headless Agg backend: no display needed).

Two views answer the two questions VTC raises: does it keep its advantage under load (latency
vs concurrency, one line per mode), and does the advantage grow with the length of the
reasoning, as compressing old reasoning into pages should make it (latency vs tokens generated,
one scatter per mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

COLORS = {"vtc": "tab:blue", "baseline": "tab:orange"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, ax: Any, path: Path, *, xlabel: str, title: str) -> Path:
    """Both plots: latency on y, a grid, a legend when anything was drawn, written as PNG."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("end-to-end latency (s)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_latency_vs_concurrency(levels: Sequence[dict[str, Any]], path: Path) -> Path:
    """p50 latency (line) with the p95 as a shaded band, per mode, x = concurrency."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    modes = sorted({str(level["mode"]) for level in levels})
    for mode in modes:
        rows = sorted(
            (lv for lv in levels if lv["mode"] == mode and lv.get("latency_p50_s") is not None),
            key=lambda lv: lv["concurrency"],
        )
        if not rows:
            continue
        xs = [lv["concurrency"] for lv in rows]
        p50 = [lv["latency_p50_s"] for lv in rows]
        p95 = [lv["latency_p95_s"] for lv in rows]
        color = COLORS.get(mode)
        ax.plot(xs, p50, marker="o", color=color, label=f"{mode} p50")
        ax.fill_between(xs, p50, p95, color=color, alpha=0.2, label=f"{mode} p50-p95")
    ax.set_xscale("log", base=2)
    ticks = sorted({int(lv["concurrency"]) for lv in levels})
    if ticks:
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    return _save(plt, fig, ax, path, xlabel="concurrent requests", title="Latency vs concurrency")


def plot_latency_vs_length(requests: Sequence[dict[str, Any]], path: Path) -> Path:
    """Each successful request: latency against the tokens it generated, coloured by mode."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    modes = sorted({str(r["mode"]) for r in requests})
    for mode in modes:
        pts = [
            (r["completion_tokens"], r["latency_s"])
            for r in requests
            if r["mode"] == mode and r.get("ok") and r.get("completion_tokens") is not None
        ]
        if not pts:
            continue
        ax.scatter(
            [p[0] for p in pts],
            [p[1] for p in pts],
            s=14,
            alpha=0.6,
            color=COLORS.get(mode),
            label=mode,
        )
    xlabel = "tokens generated (reasoning + answer, all rounds)"
    return _save(plt, fig, ax, path, xlabel=xlabel, title="Latency vs reasoning length")
