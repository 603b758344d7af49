"""From what the client saw (and the stand-in's write log) to one row of the capacity table.

Per token j of a stream the client knows when it arrived (the first socket read whose text
reached the token's last character) and the stand-in knows when it wrote it. So:
- delay_j = arrival_j - write_j: the path's latency for that token (direct: kernel + client);
- added inter-token latency_j = (arrival_j - arrival_j-1) - (write_j - write_j-1): what the
  path added to the gap between two tokens over the upstream's own pacing (0 for a path that
  forwards each token as it comes; a stall of 12 ms shows as 12 ms on the token after it);
- TTFT added (round 1) = the client's TTFT - the upstream's own (first write - request read);
- gap (rounds 2..R) = next request read - last token written, at the upstream: the time a
  request spends between rounds outside the model (the gateway's render flush and next prompt;
  for `chat` paths the client's turnaround and the proxy's request path).
Against a real `vllm serve` there is no write log and the text is the model's: tokens are what
the server reported (usage, or the gateway's round markers), ITL is the gap between reads that
carried text, and the knee test subtracts the direct path's p99 at the same S.
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from capacity_parts.text import TokenIndex

KNEE_ITL_P99_MS = 10.0


def _floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.float64)


def _ints(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.int64)


@dataclass
class Samples:
    """Per-token and per-round samples pooled over every stream of one run (seconds)."""

    tokens: int = 0
    errors: list[str] = field(default_factory=list)
    itl: list[np.ndarray] = field(default_factory=list)
    itl_added: list[np.ndarray] = field(default_factory=list)
    delay: list[np.ndarray] = field(default_factory=list)
    ttft: list[float] = field(default_factory=list)
    ttft_added: list[float] = field(default_factory=list)
    gap: list[float] = field(default_factory=list)


def _arrivals(round_: dict[str, Any], index: TokenIndex) -> np.ndarray:
    """Arrival time of each whole token the round received."""
    times, chars = _floats(round_["times"]), _ints(round_["chars"])
    if not len(chars):
        return np.empty(0)
    count = index.tokens_in(int(chars[-1]))
    ends = np.asarray(index.ends[:count])
    return times[np.searchsorted(chars, ends, side="left")]


def _add_stream(
    samples: Samples, round_: dict[str, Any], log: dict[str, Any] | None, arrivals: np.ndarray
) -> None:
    if len(arrivals) > 1:
        samples.itl.append(np.diff(arrivals))
    if log is None:
        if round_["sent"] is not None and len(arrivals):
            samples.ttft.append(float(arrivals[0] - round_["sent"]))
        return
    writes = _floats(log["writes"])[: len(arrivals)]
    samples.delay.append(arrivals - writes)
    if len(arrivals) > 1:
        samples.itl_added.append(np.diff(arrivals) - np.diff(writes))


def collect(
    result: dict[str, Any], logs: list[dict[str, Any]] | None, index: TokenIndex, expected: int
) -> Samples:
    """Pool the samples of one run; `logs` are the stand-in's streams (None: real upstream)."""
    by_tag: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in logs or ():
        by_tag[entry["tag"]].append(entry)
    samples = Samples()
    for request in result["requests"]:
        if request["error"]:
            samples.errors.append(f"{request['tag']}: {request['error']}")
        streams = sorted(by_tag.get(request["tag"], []), key=lambda s: s["received"])
        rounds = request["rounds"]
        if logs is not None and len(streams) != len(rounds):
            samples.errors.append(f"{request['tag']}: {len(rounds)} rounds, {len(streams)} streams")
            streams = []
        for r, round_ in enumerate(rounds):
            log = streams[r] if streams else None
            if logs is None:  # a real upstream: per read, and the server's own token count
                arrivals = _floats(round_["times"])
                samples.tokens += round_["reported"]
                _add_stream(samples, round_, None, arrivals)
                continue
            arrivals = _arrivals(round_, index)
            samples.tokens += len(arrivals)
            if len(arrivals) != expected and not request["error"]:
                samples.errors.append(f"{request['tag']} round {r + 1}: {len(arrivals)} tokens")
            _add_stream(samples, round_, log, arrivals)
            if log is None or not len(arrivals):
                continue
            if r == 0:
                ttft = float(arrivals[0] - round_["sent"])
                samples.ttft.append(ttft)
                samples.ttft_added.append(ttft - (_floats(log["writes"])[0] - log["received"]))
            else:
                previous = _floats(streams[r - 1]["writes"])
                samples.gap.append(float(log["received"] - previous[-1]))
    return samples


def _pct(parts: list[np.ndarray] | list[float], q: float) -> float | None:
    if not parts:
        return None
    values = np.concatenate(parts) if isinstance(parts[0], np.ndarray) else np.asarray(parts)
    return float(np.percentile(values, q) * 1e3) if len(values) else None


def summarise(result: dict[str, Any], samples: Samples) -> dict[str, Any]:
    """One row: throughput, CPU per process, latency percentiles (ms), errors."""
    window = result["t_end"] - result["t_start"]
    tokens = samples.tokens
    cpu = {
        name: {
            "cpu_s": seconds,
            "cores": seconds / window,
            "us_per_token": seconds / tokens * 1e6 if tokens else None,
        }
        for name, seconds in result["cpu_s"].items()
    }
    row: dict[str, Any] = {
        "window_s": window,
        "tokens": tokens,
        "tokens_per_s": tokens / window,
        "cpu": cpu,
        "errors": len(samples.errors),
        "error_examples": samples.errors[:5],
    }
    for name in ("itl", "itl_added", "delay", "ttft", "ttft_added", "gap"):
        parts = getattr(samples, name)
        row[f"{name}_p50_ms"] = _pct(parts, 50)
        row[f"{name}_p99_ms"] = _pct(parts, 99)
    return row


def past_knee(row: dict[str, Any], direct: dict[str, Any] | None) -> bool:
    """Errors, or added p99 inter-token latency over 10 ms. Against a real upstream (no write
    log), the path's p99 ITL minus direct's at the same S. When direct itself is past 10 ms
    (a machine busy with other work: the client and kernel add it), what counts is the path's
    excess over direct, recorded as `itl_excess_over_direct_p99_ms`."""
    if row["errors"]:
        return True
    added = row["itl_added_p99_ms"]
    if added is None and direct is not None and row["itl_p99_ms"] is not None:
        added = row["itl_p99_ms"] - (direct["itl_p99_ms"] or 0.0)
        row["itl_added_p99_ms"] = added
    if added is None:
        return False
    floor = direct["itl_added_p99_ms"] if direct is not None else None
    if floor is not None and floor > KNEE_ITL_P99_MS and row is not direct:
        row["itl_excess_over_direct_p99_ms"] = added - floor
        return added - floor > KNEE_ITL_P99_MS
    return added > KNEE_ITL_P99_MS
