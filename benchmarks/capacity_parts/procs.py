"""Child processes of the benchmark (stand-in, gateway, LiteLLM, client) and their CPU time.

CPU is read the way an operator's tools read it: a process's user + system seconds, which
cover all its threads (`/proc/PID/stat` utime + stime, what `psutil.Process.cpu_times`, `top`
and `ps` show), plus its child processes (live ones summed, finished ones through cutime +
cstime): a gateway with `--workers N` is a parent and N workers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import psutil


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads and all its descendants."""
    try:
        root = psutil.Process(pid)
        total = _cpu(root, with_reaped=True)
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += _cpu(child, with_reaped=False)
    except psutil.NoSuchProcess:
        return 0.0
    return total


def _cpu(process: psutil.Process, *, with_reaped: bool) -> float:
    times = process.cpu_times()
    total = times.user + times.system
    if with_reaped:
        total += times.children_user + times.children_system
    return float(total)


@contextlib.contextmanager
def child(
    command: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group (SIGTERM to the group on exit, SIGKILL if it lingers),
    its output in `log`. `python -m` puts the working directory first on sys.path, so a
    gateway from another checkout runs in that checkout."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 300) -> None:
    """Poll `url` until it answers 200; fail early if the process died (with its log's tail)."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if response.status == 200:
                print(f"{Path(log).stem} ready in {time.monotonic() - started:.1f} s", flush=True)
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s (log: {log})")
        time.sleep(0.2)  # a poll interval, not synchronisation


def wait_http_any(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll until something answers at `url`, whatever the status (a POST-only route)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args!r} did not start (log: {log})") from None
        time.sleep(0.2)  # a poll interval, not synchronisation


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
