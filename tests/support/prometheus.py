"""Reading samples out of a Prometheus text exposition, for tests."""

from __future__ import annotations


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus exposition (0 if absent)."""
    for line in text.splitlines():
        named = line.startswith(name + "{") or line.startswith(name + " ")
        if named and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
