"""The servers gpu-check starts: `vllm serve` replicas (the project's replica helper) and the
gateway (`vtcr1 serve`). Each runs in its own process group and is stopped, whole tree, by the
run's exit stack; readiness is a poll of an endpoint against a deadline."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from tests.support.vllm_process import TEST_ENV, VllmServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Offline, no telemetry, this checkout first on the import path."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, **TEST_ENV, "PYTHONPATH": path, **(extra or {})}


def start_replica(
    model: str, served_name: str, flags: Sequence[str], log: Path, timeout_s: float
) -> VllmServer:
    """A `vllm serve` on `model`; `flags` come last and override the helper's defaults."""
    server = VllmServer(
        model,
        served_model_name=served_name,
        log_path=log,
        max_model_len=4096,
        extra_args=list(flags),
    )
    try:
        return server.start(timeout_s=timeout_s)
    except Exception as exc:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        raise RuntimeError(f"{exc}\n{tail}") from exc


class Gateway:
    """`vtcr1 serve` as a child process, ready once `/ready` answers 200."""

    def __init__(self, args: Sequence[str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), *args]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=child_env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float) -> float:
        """Seconds until `/ready` answered 200."""
        start = time.monotonic()
        with httpx.Client(timeout=5.0) as client:
            while True:
                if self.proc.poll() is not None:
                    tail = self.log.read_text(errors="replace")[-1500:]
                    raise RuntimeError(f"gateway exited with {self.proc.returncode}: {tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url}/ready").status_code == 200:
                        return time.monotonic() - start
                if time.monotonic() - start > timeout_s:
                    raise TimeoutError(f"gateway not ready after {timeout_s:.0f} s")
                time.sleep(0.25)  # poll interval, not synchronisation

    def stop(self, timeout_s: float = 30.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def run_tool(
    argv: Sequence[str], log: Path, timeout_s: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command of this checkout to its end (its whole process group is killed at the
    timeout: pytest's and the benchmarks' engines included); its output goes to `log`."""
    proc = subprocess.Popen(
        list(argv),
        cwd=ROOT,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        log.write_text(out + "\n--- stderr ---\n" + err)
        raise
    log.write_text(out + ("\n--- stderr ---\n" + err if err else ""))
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
