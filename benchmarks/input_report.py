"""Printing and plotting the input-compression benchmark's results (medians per document
size, without and with `compress_input`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

HEADER = (
    f"{'doc tok':>7} {'variant':>8} {'prompt tok':>10} {'pages':>5} {'render s':>8} "
    f"{'TTFT r1 s':>9} {'TTFT req s':>10} {'2 rounds s':>10} {'r2 cached':>9}"
)


def _row(name: str, m: dict[str, float]) -> str:
    return (
        f"{m['doc_tokens']:>7.0f} {name:>8} {m['prompt_tokens']:>10.0f} {m['pages']:>5.0f} "
        f"{m['render_s']:>8.3f} {m['ttft_s']:>9.3f} {m['request_ttft_s']:>10.3f} "
        f"{m['e2e_s']:>10.3f} {m['cached_tokens_r2']:>9.0f}"
    )


def print_sample(sample: dict[str, Any], load: float) -> None:
    name = "with" if sample["compressed"] else "without"
    print("  " + _row(name, sample), f"load {load:.1f}", flush=True)


def print_table(rows: Sequence[dict[str, Any]]) -> None:
    print("\nmedians")
    print(HEADER)
    for row in rows:
        print(_row("without", row["without"]))
        print(_row("with", row["with"]))
    print("\nwithout / with (medians):")
    for row in rows:
        r, loads = row["ratios"], row["load_1min"]
        print(
            f"{row['size']:>6} tokens: prompt tokens {r['prompt_tokens']:.2f}x fewer, "
            f"TTFT r1 {r['ttft_s']:.2f}x, request TTFT {r['request_ttft_s']:.2f}x, "
            f"2-round e2e {r['e2e_s']:.2f}x; compression ratio "
            f"{row['with']['text_tokens'] / row['with']['vision_tokens']:.2f}; "
            f"load {min(loads):.1f}-{max(loads):.1f}"
        )


def print_floor(limits: dict[str, Any]) -> None:
    for kind in ("prose", "math"):
        if kind in limits:
            f = limits[kind]
            print(
                f"floor, {kind}: {f['text_tokens_per_full_page']:.0f} text tokens per full page vs "
                f"{f['vision_tokens_per_full_page']} vision tokens per full page "
                f"(+{limits['image_overhead_tokens']} markers): {f['ratio']:.2f}x"
            )


PANELS = (
    ("ttft_s", "TTFT of round 1 (s)"),
    ("e2e_s", "2-round request, end to end (s)"),
    ("prompt_tokens", "prompt tokens of round 1"),
)


def plot(rows: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """One panel per measure against the document's tokens, both variants, log-log, each
    point of the compressed side labelled with the without/with ratio."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4.6))
    x = [row["without"]["doc_tokens"] for row in rows]
    for ax, (name, label) in zip(axes, PANELS, strict=True):
        for side, style in (("without", "o-"), ("with", "s-")):
            ys = [row[side][name] for row in rows]
            ax.plot(x, ys, style, label=f"{side} compress_input")
        for row, xi in zip(rows, x, strict=True):
            ratio = f"{row['ratios'][name]:.2f}x"
            ax.annotate(ratio, (xi, row["with"][name]), textcoords="offset points", xytext=(5, -13))
        ax.set(xscale="log", yscale="log", xlabel="document tokens", ylabel=label)
        ax.set_xticks(x, [f"{v / 1024:.0f}k" for v in x], minor=False)
        ax.set_xticks([], minor=True)
        ax.margins(0.12)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
