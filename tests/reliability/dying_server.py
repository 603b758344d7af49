"""A child process for test_faults: `vtcr1 serve`'s code path (`server.serve.serve`) with an
engine that dies on its first token. Prints the port, then serves; exits with serve's code."""

from __future__ import annotations

import socket
import sys

from server.engines.base import Engine
from server.serve import serve
from server.settings import Settings
from tests.reliability.support import DyingEngine


class DiesOnFirstToken(DyingEngine):
    def before_token(self, request_id: str) -> None:
        self.dead = True
        super().before_token(request_id)


async def factory(_: Settings) -> Engine:
    return DiesOnFirstToken(1)


def main() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    settings = Settings(engine_health_interval_s=0, shutdown_grace_s=5, log_level="warning")
    return serve(settings, engine_factory=factory, sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
