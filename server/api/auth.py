"""API-key authentication: `Authorization: Bearer <key>`, as the OpenAI SDK sends it.

No keys configured means no authentication (the default, for a gateway behind a private network
or an authenticating proxy). With keys, every route but the probes (`/health`, `/ready`), the
playground's static files (`/`, `/playground/...`) and, unless `metrics_auth`, `/metrics` needs
one. Keys are kept only as SHA-256 digests and compared
with `hmac.compare_digest` against every configured key (no early exit), so neither the position
of a mismatch nor which key matched shows in the timing; keys never reach a log or a response.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from server.api.errors import error_response
from server.errors import Unauthorized
from server.settings import Settings

PROBE_PATHS = frozenset({"/health", "/ready"})
# The playground's static files are public; the API calls the page makes carry the user's key.
PUBLIC_PATHS = frozenset({"/"})
PUBLIC_PREFIX = "/playground/"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def read_key_file(path: Path) -> list[str]:
    """One key per line; blank lines and `#` comments are skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


def load_key_digests(settings: Settings) -> tuple[bytes, ...]:
    keys = [k.get_secret_value().strip() for k in settings.api_keys]
    if settings.api_key_file is not None:
        keys += read_key_file(settings.api_key_file)
    return tuple(_digest(k) for k in keys if k)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class ApiKeyAuth:
    def __init__(self, app: ASGIApp, *, digests: tuple[bytes, ...], metrics_open: bool) -> None:
        self.app = app
        self.digests = digests
        self.open_paths = PROBE_PATHS | PUBLIC_PATHS | ({"/metrics"} if metrics_open else set())

    def public(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(PUBLIC_PREFIX)

    def valid(self, token: str | None) -> bool:
        given = _digest(token) if token is not None else b"\0" * 32
        matched = False
        for digest in self.digests:
            matched |= hmac.compare_digest(given, digest)
        return matched and token is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.digests or self.public(scope["path"]):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if self.valid(token):
            await self.app(scope, receive, send)
            return
        message = (
            "invalid API key"
            if token is not None
            else "missing API key: send it as `Authorization: Bearer <key>`"
        )
        error = Unauthorized(message, headers={"WWW-Authenticate": "Bearer"})
        await error_response(error)(scope, receive, send)
