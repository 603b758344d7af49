"""`vtcr1 serve --workers N`: N gateway processes on one port, in remote mode.

Why: every streamed token passes through the gateway's Python, and one process uses one core
(~65 us of CPU per relayed token in remote mode, i.e. ~15k tokens/s per core at best). N worker
processes take N cores. The in-process engine stays one process (its engine lives in it): with
`--engine vllm` several workers are refused at start; vLLM's own answer is `vllm serve
--api-server-count N`, which this gateway can front in remote mode.

How:
- The supervisor (this process) binds the socket once; every worker serves on it, and the kernel
  gives each new connection to whichever worker accepts it first.
- Each worker is exactly the single-process server (`server.serve.serve_one`): its own app,
  engine client, admission limits, `/ready` (its own view of the upstreams) and SIGTERM drain.
  Admission limits are therefore per worker: a shared one would put a cross-process lock or a
  round trip on every admission, and the kernel already spreads connections over the workers;
  N workers admit up to N x `max_concurrent_requests`.
- Workers are spawned, not forked: a fresh interpreter each, so no event loop, thread or lock of
  the supervisor leaks into them; the settings travel pickled on multiprocessing's spawn pipe
  (API keys stay out of the environment).
- Metrics: prometheus-client's multiprocess mode in a fresh private directory (`mkdtemp`, 0700)
  made here and removed at exit. `PROMETHEUS_MULTIPROC_DIR` is in the environment the workers
  start with, so it is set before they import prometheus-client (which picks its value class
  at import). `/metrics` of any worker reports the sum over all (see `server/metrics.py`).
- A worker that exits is replaced (its in-flight gauge is dropped with `mark_process_dead`; its
  counts stay); one that never started (exit 3) stops the server with exit code 1 instead of
  restarting in a loop.
- SIGTERM or SIGINT: the supervisor closes its copy of the socket and sends SIGTERM to every
  worker, which drain like the single process (503 on `/ready`, listener closed, streams finish
  within `shutdown_grace_s`); once all have closed their listeners new connections are refused.
  Workers still running `STOP_MARGIN_S` after the grace period are killed.
- A worker whose supervisor is gone (killed with SIGKILL) drains and exits by itself.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead
from uvicorn.config import STARTUP_FAILURE

from server.api.auth import load_key_digests
from server.logs import configure_logging
from server.settings import Settings

log = logging.getLogger("vtcr1.workers")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# After the grace period: the workers' lifespan shutdown (engine clients closed), then SIGKILL.
STOP_MARGIN_S = 10.0
# A drained worker exits 0, or by the signal uvicorn re-raises after its shutdown.
CLEAN_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGINT})


def refusal(settings: Settings) -> str | None:
    """The one-line reason several workers cannot run with these settings, if any."""
    if settings.workers <= 1 or settings.engine == "openai":
        return None
    n = settings.workers
    return (
        f"vtcr1 serve: --workers {n} needs --engine openai: the in-process engine "
        f"(--engine {settings.engine}) runs in one process; to use more cores for the API, run "
        f"`vllm serve MODEL --api-server-count {n}` and put this gateway in front of it with "
        "--engine openai --backend-urls http://HOST:PORT"
    )


def serve_workers(settings: Settings, *, sockets: Sequence[socket.socket] | None = None) -> int:
    """Run `settings.workers` workers until SIGTERM/SIGINT; 0 if they all stopped cleanly."""
    configure_logging(settings.log_level)
    load_key_digests(settings)  # a missing key file fails here, once, not in every worker
    sock = sockets[0] if sockets else bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    with metrics_directory() as directory:
        log.info(
            "listening on http://%s:%d with %d workers (metrics in %s)",
            host,
            port,
            settings.workers,
            directory,
        )
        try:
            return Supervisor(settings, sock, directory).run()
        finally:
            sock.close()


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here; each worker starts listening on it when it starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


@contextlib.contextmanager
def metrics_directory() -> Iterator[str]:
    """A fresh private multiprocess directory in the environment the workers inherit."""
    directory = tempfile.mkdtemp(prefix="vtcr1-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def run_worker(settings: Settings, sock: socket.socket) -> None:
    """A worker process: the single-process server on the shared socket. A failure before it
    serves exits with STARTUP_FAILURE, so the supervisor stops instead of restarting it."""
    configure_logging(settings.log_level)
    _exit_with_supervisor()
    try:
        from server.metrics import multiprocess_mode
        from server.serve import serve_one

        if not multiprocess_mode():
            raise RuntimeError(f"prometheus-client was imported before {MULTIPROC_ENV} was set")
    except Exception:
        log.exception("worker failed to start")
        sys.exit(STARTUP_FAILURE)
    sys.exit(serve_one(settings, sockets=[sock]))


def _exit_with_supervisor() -> None:
    """Drain and exit (SIGTERM to ourselves) if the supervisor dies without stopping us."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="vtcr1-supervisor-watch", daemon=True).start()


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        sock: socket.socket,
        metrics_dir: str,
        *,
        target: Callable[[Settings, socket.socket], None] = run_worker,
    ) -> None:
        self.settings = settings
        self.target = target
        self.sock = sock
        self.metrics_dir = metrics_dir
        self.context = multiprocessing.get_context("spawn")
        self.workers: list[BaseProcess] = []
        self.stopping = False
        self.failed = False

    def run(self) -> int:
        """Start the workers, replace those that exit, and stop them all on a signal."""
        with _signals_wake(self.request_stop) as wake:
            self.workers = [self._start() for _ in range(self.settings.workers)]
            while not self.stopping:
                wait([w.sentinel for w in self.workers] + [wake])
                _drain(wake)
                self._replace_exited()
            return self._stop()

    def _start(self) -> BaseProcess:
        process = self.context.Process(
            target=self.target, args=(self.settings, self.sock), name="vtcr1-worker"
        )
        process.start()
        log.info("worker %s started", process.pid)
        return process

    def _replace_exited(self) -> None:
        for index, process in enumerate(self.workers):
            code = process.exitcode
            if code is None or self.stopping:
                continue
            mark_process_dead(process.pid, self.metrics_dir)
            if code == STARTUP_FAILURE:
                log.error("worker %s failed to start: stopping the server", process.pid)
                self.failed = self.stopping = True
                return
            log.warning("worker %s exited with code %s: starting a new one", process.pid, code)
            self.workers[index] = self._start()

    def _stop(self) -> int:
        """Every worker drains (SIGTERM); those past the grace period plus a margin are killed."""
        self.sock.close()  # once the workers close theirs, new connections are refused
        for process in self.workers:
            if process.exitcode is None:
                process.terminate()
        deadline = time.monotonic() + self.settings.shutdown_grace_s + STOP_MARGIN_S
        for process in self.workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                log.error("worker %s did not stop in time: killing it", process.pid)
                process.kill()
                process.join()
            if process.exitcode not in CLEAN_EXITS:
                self.failed = True
        log.info("all workers stopped")
        return 1 if self.failed else 0

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True


@contextlib.contextmanager
def _signals_wake(on_signal: Callable[[int, FrameType | None], None]) -> Iterator[socket.socket]:
    """SIGTERM/SIGINT call `on_signal` and wake the supervisor's `wait`: the signal's byte
    lands on the socket yielded here, which the loop waits on with the workers (no polling)."""
    readable, writable = socket.socketpair()
    readable.setblocking(False)
    writable.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writable.fileno())
    handlers = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield readable
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        readable.close()
        writable.close()


def _drain(wake: socket.socket) -> None:
    with contextlib.suppress(BlockingIOError):
        while wake.recv(4096):
            pass
