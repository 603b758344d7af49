"""`vtcr1 serve` as its own process, the way `make serve` runs it, for clients in other processes.

The clients under test (Node, LiteLLM's venv, the `vllm` CLI) are separate programs, so the
server is too: a child in its own process group (the in-process vLLM engine forks an engine core
under it; one signal ends the tree), started with this tree on PYTHONPATH, ready when `/ready`
says so (the engine is loaded), its JSON log kept in a file the tests read to see what the server
made of the clients' requests.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.waiting import wait_for_url

ROOT = Path(__file__).resolve().parents[2]
# Time to /ready: 30-60 s on two idle cores, ~160 s measured with the machine at load 23.
READY_TIMEOUT_S = 600.0
# A client request the server only logged, without refusing it.
UNKNOWN_FIELDS = "ignoring unknown request fields"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _group_members(pgid: int) -> list[str]:
    import psutil

    members = []
    for proc in psutil.process_iter(["name", "status"]):
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(f"{proc.pid} {proc.info['name']}")
    return members


class Gateway:
    """One `python -m server.cli serve ARGS` child; `start()` returns once it is ready."""

    def __init__(self, args: Sequence[str], *, log_path: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._argv = [sys.executable, "-m", "server.cli", "serve", *args]
        self._argv += ["--host", "127.0.0.1", "--port", str(self.port)]
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        self._env = {**os.environ, "PYTHONPATH": path}
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        # Processes of the group still alive `stop`'s timeout after SIGTERM (should be none).
        self.leftover: list[str] = []

    def start(self) -> Gateway:
        started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self._argv,
                cwd=ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def _wait_ready(self) -> None:
        wait_for_url(
            f"{self.base_url}/ready",
            self.proc,
            timeout_s=READY_TIMEOUT_S,
            what="vtcr1 serve",
            details=self.log_tail,
        )

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the group (the server drains, then closes the engine); SIGKILL what is
        left after `timeout_s`."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout_s)
        # The engine core may outlive the API process by a moment: wait for the group.
        deadline = time.monotonic() + timeout_s
        while _group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.leftover = _group_members(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size

    def log_records(self, since: int = 0) -> list[dict[str, object]]:
        """The server's own JSON log records written after byte `since` (vLLM's lines are not
        JSON and are skipped)."""
        with open(self.log_path, "rb") as log:
            log.seek(since)
            lines = log.read().decode(errors="replace").splitlines()
        records = []
        for line in lines:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def ignored_fields(self, since: int) -> list[str]:
        """What the server logged as unknown request fields since byte `since`."""
        return [
            str(r["msg"]) for r in self.log_records(since) if UNKNOWN_FIELDS in str(r.get("msg"))
        ]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]
