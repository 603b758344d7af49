"""Launch a `vllm serve` replica as a child process, for tests, benchmarks and checks (the
product never starts one: its remote engine talks to replicas someone else runs).

The replica runs in its own process group (vLLM forks an engine core and workers under it), so
`stop()` can end the whole tree with one signal and nothing outlives the caller. Readiness is a
poll of `/health` against a deadline, never a fixed sleep.
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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

from tests.support.waiting import wait_for_url

# What a CPU machine of this project needs (harmless on a GPU one): a small KV cache, loopback
# for vLLM's internal traffic, no hub or telemetry calls.
TEST_ENV: Mapping[str, str] = {
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_HOST_IP": "127.0.0.1",
    "HF_HUB_OFFLINE": "1",
    "VLLM_NO_USAGE_STATS": "1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def vllm_command() -> list[str]:
    """The `vllm` console script of this interpreter's environment (with the CPU packaging fixes
    it works like the CUDA one); `python -m` as a fallback."""
    script = Path(sys.executable).with_name("vllm")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "vllm.entrypoints.cli.main"]


def serve_args(
    model: str,
    *,
    port: int,
    served_model_name: str | None = None,
    max_model_len: int = 4096,
    dtype: str = "bfloat16",
    max_images_per_prompt: int = 8,
    enforce_eager: bool = True,
    extra: Sequence[str] = (),
) -> list[str]:
    args = [
        "serve",
        model,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--dtype",
        dtype,
        "--limit-mm-per-prompt",
        json.dumps({"image": max_images_per_prompt, "video": 0}),
        "--enable-prefix-caching",
        # Usage chunks then carry prompt_tokens_details.cached_tokens.
        "--enable-prompt-tokens-details",
    ]
    if enforce_eager:
        args.append("--enforce-eager")
    if served_model_name:
        args += ["--served-model-name", served_model_name]
    return [*args, *extra]


class VllmServer:
    """One `vllm serve` child. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        model: str,
        *,
        port: int | None = None,
        served_model_name: str | None = None,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        max_model_len: int = 4096,
        max_images_per_prompt: int = 8,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.model = model
        self.served_model_name = served_model_name
        self.log_path = log_path
        self._env = {**os.environ, **TEST_ENV, **(env or {})}
        self._argv = [
            *vllm_command(),
            *serve_args(
                model,
                port=self.port,
                served_model_name=served_model_name,
                max_model_len=max_model_len,
                max_images_per_prompt=max_images_per_prompt,
                extra=extra_args,
            ),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.pgid: int | None = None
        self.startup_s: float | None = None

    def start(self, timeout_s: float = 600.0) -> VllmServer:
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self._argv,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals the whole tree
            )
            self.pgid = self.proc.pid
        finally:
            if self.log_path:
                log.close()  # type: ignore[union-attr]
        try:
            self.wait_healthy(timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def wait_healthy(self, timeout_s: float) -> None:
        wait_for_url(
            f"{self.base_url}/health",
            self.proc,
            timeout_s=timeout_s,
            what="vllm serve",
            details=lambda: f"log: {self.log_path}",
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the process group (vLLM shuts down its engine core and workers), then
        SIGKILL whatever is left after `timeout_s`."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        pgid = self.pgid = proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout_s)
        # Children (engine core, workers) may linger after the API process exits.
        deadline = time.monotonic() + timeout_s
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in the process group."""
    try:
        import psutil  # a vLLM dependency
    except ImportError:  # pragma: no cover
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


@contextlib.contextmanager
def vllm_servers(model: str, count: int, **kwargs: object) -> Iterator[list[VllmServer]]:
    """Start `count` replicas one after the other (two cores: in parallel they only slow each
    other down) and stop them all on exit."""
    servers: list[VllmServer] = []
    try:
        for _ in range(count):
            servers.append(VllmServer(model, **kwargs).start())  # type: ignore[arg-type]
        yield servers
    finally:
        for server in servers:
            server.stop()
