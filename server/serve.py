"""`vtcr1 serve`: run the gateway under uvicorn with JSON logs and a graceful drain.

On SIGTERM uvicorn stops accepting connections and waits for the requests in flight, streams
included, for up to `shutdown_grace_s` seconds before it closes them and runs the lifespan's
shutdown (which closes the engine).
"""

from __future__ import annotations

import uvicorn

from server.api.app import create_app
from server.logs import configure_logging
from server.settings import Settings


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
        access_log=False,
    )
    uvicorn.Server(config).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = Settings(_cli_parse_args=argv if argv is not None else True)
    return serve(settings)
