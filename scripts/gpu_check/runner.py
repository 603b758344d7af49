"""Steps, their timing and outcome, and the report.

A step is a name, what it proves, the steps it needs, and a function returning its numbers.
It fails by raising (`StepFailed` for a check that did not hold, anything else for a crash);
`StepUnavailable` marks a step that cannot run here (a tool not on this checkout yet) and
`ok` is then null: not a failure, not a pass. A step whose needs did not pass is skipped.
The run is green when no step failed.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Numbers = Mapping[str, Any]


class StepFailed(Exception):
    """The step ran and what it checks did not hold."""


class StepUnavailable(Exception):
    """The step cannot run on this checkout or machine (said why)."""


class StepSkipped(Exception):
    """The step was not asked for in this run (said why)."""


@dataclass(frozen=True)
class Step:
    name: str
    proves: str
    run: Callable[[], Numbers | None]
    needs: tuple[str, ...] = ()


@dataclass
class StepResult:
    name: str
    ok: bool | None
    seconds: float
    status: str  # ok, failed, not available, skipped
    numbers: dict[str, Any] = field(default_factory=dict)
    detail: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "status": self.status,
        }
        out.update(self.numbers)
        if self.detail:
            out["detail"] = self.detail
        return out


def run_step(
    step: Step, passed: set[str], clock: Callable[[], float] = time.monotonic
) -> StepResult:
    """Run one step (or skip it when a step it needs did not pass)."""
    missing = [n for n in step.needs if n not in passed]
    if missing:
        return StepResult(step.name, None, 0.0, "skipped", detail="needs " + ", ".join(missing))
    start = clock()
    try:
        numbers = dict(step.run() or {})
    except StepUnavailable as exc:
        return StepResult(step.name, None, clock() - start, "not available", detail=str(exc))
    except StepSkipped as exc:
        return StepResult(step.name, None, clock() - start, "skipped", detail=str(exc))
    except StepFailed as exc:
        return StepResult(step.name, False, clock() - start, "failed", detail=str(exc))
    except Exception as exc:
        trace = traceback.format_exc(limit=3)
        detail = f"{type(exc).__name__}: {exc}\n{trace}"
        return StepResult(step.name, False, clock() - start, "failed", detail=detail)
    return StepResult(step.name, True, clock() - start, "ok", numbers)


def run_steps(
    steps: Iterable[Step], on_result: Callable[[StepResult], None] = lambda r: None
) -> list[StepResult]:
    passed: set[str] = set()
    results: list[StepResult] = []
    for step in steps:
        result = run_step(step, passed)
        if result.ok:
            passed.add(step.name)
        results.append(result)
        on_result(result)
    return results


def green(results: Iterable[StepResult]) -> bool:
    return not any(r.ok is False for r in results)


def report_json(
    results: list[StepResult], versions: Numbers, device: Numbers, run: Numbers
) -> dict[str, Any]:
    return {
        "ok": green(results),
        "steps": [r.as_json() for r in results],
        "versions": dict(versions),
        "device": dict(device),
        "run": dict(run),
    }


def _cell(result: dict[str, Any]) -> str:
    skip = {"name", "ok", "seconds", "status", "detail"}
    parts = [f"{k}={_short(v)}" for k, v in result.items() if k not in skip]
    if result.get("detail"):
        parts.append(str(result["detail"]).splitlines()[0][:160])
    return "; ".join(parts).replace("|", "/")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return str(value)


def report_markdown(report: Mapping[str, Any], proves: Mapping[str, str]) -> str:
    run, device = report["run"], report["device"]
    lines = [
        f"# gpu-check: {'green' if report['ok'] else 'FAILED'}",
        "",
        f"{run.get('started')} on {device.get('summary')}; {run.get('seconds', 0):.0f} s in all.",
        "",
        str(run.get("note", "")),
        "",
        "| step | result | seconds | numbers | proves |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in report["steps"]:
        lines.append(
            f"| {step['name']} | {step['status']} | {step['seconds']:.1f} | {_cell(step)} "
            f"| {proves.get(step['name'], '')} |"
        )
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items())]
    return "\n".join(lines) + "\n"


def write_report(out: Path, report: Mapping[str, Any], proves: Mapping[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    (out / "report.md").write_text(report_markdown(report, proves))
